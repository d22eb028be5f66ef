// Who this display is: the operator signed in (or nobody), and what that allows. Controls ask
// `can(command)` and are not shown when the answer is no: an observer's display has no button
// that would only fail. The hall checks every command again (main/core/hub/hub.ts).
import { defineStore } from 'pinia';
import { computed, shallowRef } from 'vue';
import { COMMAND_GRANT, type CommandName } from '../../common/contract.ts';
import type { Who } from '../../common/trust.ts';
import { TICKET_KEY, useHub } from '../hub/index.ts';
import { topicState } from './topic.ts';

export const useSessionStore = defineStore('session', () => {
  const hub = useHub();
  const who = shallowRef<Who | null>(hub.who);
  hub.onWho((w) => (who.value = w));
  const operators = topicState('operators');
  const operator = computed(() => who.value?.operator ?? null);

  function can(name: CommandName): boolean {
    return who.value?.grants.includes(COMMAND_GRANT[name]) ?? false;
  }

  async function signIn(id: string, pin: string): Promise<void> {
    const r = await hub.command('session.signIn', { operator: id, pin });
    sessionStorage.setItem(TICKET_KEY, r.ticket);
    hub.setWho(r.who);
  }

  async function signOut(): Promise<void> {
    sessionStorage.removeItem(TICKET_KEY);
    const r = await hub.command('session.signOut', {});
    hub.setWho(r.who);
  }

  return { who, operator, operators, can, signIn, signOut };
});
