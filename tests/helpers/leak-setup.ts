// Every test file checks that it leaves nothing running (tests/helpers/leaks.ts).
import { ensureNoLeaks } from './leaks.ts';

ensureNoLeaks();
