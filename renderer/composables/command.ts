// A command from a card's button: one at a time (the buttons are disabled while it runs), its
// refusal shown in words where it was pressed.
import { ref } from 'vue';
import type { CommandArgs, CommandName } from '../../common/contract.ts';
import { useHub } from '../hub/index.ts';

export function useCommand() {
  const hub = useHub();
  const error = ref('');
  const busy = ref(false);
  /** Resolves true when the command was done. */
  async function run<C extends CommandName>(name: C, args: CommandArgs<C>): Promise<boolean> {
    error.value = '';
    busy.value = true;
    try {
      await hub.command(name, args);
      return true;
    } catch (e) {
      error.value = (e as Error).message;
      return false;
    } finally {
      busy.value = false;
    }
  }
  return { run, error, busy };
}
