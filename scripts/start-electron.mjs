// `npm start`: run the Electron app. Electron fetches its binary on first use; where that cannot
// happen (no route to its download host), say so and point at serve mode instead of a stack trace.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let bin;
try {
  bin = require('electron'); // the path of the binary (downloads it on first use)
} catch (err) {
  console.error(`Beacon: the Electron binary is not available (${err.message.split('\n')[0]}).`);
  console.error('Run the hall headless instead and open it in a browser:  npm run serve');
  process.exit(1);
}
const child = spawn(bin, ['.', ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
