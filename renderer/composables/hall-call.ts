// One key to a hall's duty officer (issues 20, 21): the hall's own entry in the directory (its duty
// office, level city or county), dialled through one-key connect. The network board and the sheets'
// overdue rows use it.
import { ref } from 'vue';
import type { Contact } from '../../common/domain.ts';
import { useHub } from '../hub/index.ts';
import { useContactsStore } from '../stores/contacts.ts';

export function useHallCall() {
  const contacts = useContactsStore();
  const hub = useHub();
  const error = ref('');
  const contactOf = (code: string): Contact | undefined => (contacts.version, contacts.list().find((c) => c.code === code && (c.level === 'city' || c.level === 'county')));
  /** `about`: what the call is for (`sheet:<id>`: 督办), logged with it. */
  async function call(code: string, about?: string): Promise<void> {
    const c = contactOf(code);
    if (!c) return;
    error.value = '';
    try {
      await hub.command('call.dial', { contact: c.id, ...(about ? { about } : {}) });
    } catch (e) {
      error.value = (e as Error).message;
    }
  }
  return { contactOf, call, error };
}
