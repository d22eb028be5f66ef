// `beacon token …` and `beacon operator …`: the hall's credentials, edited in the data directory
// (main/core/trust/credentials.ts). A running hall follows the files within a second: a console
// added works at once, one revoked is cut off at once, without a restart.
import { mkdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { OperatorRole, OPERATOR_ROLES } from '../common/trust.ts';
import { Consoles, Operators } from './core/trust/credentials.ts';
import { accessToken } from './core/security.ts';

interface Values {
  dataDir: string;
  name?: string;
  role?: string;
  id?: string;
}

function role(v: string | undefined): OperatorRole {
  const r = OperatorRole.safeParse(v);
  if (!r.success) throw new Error(`--role must be one of ${OPERATOR_ROLES.join(', ')}, not '${v ?? ''}'`);
  return r.data;
}

const when = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

export async function runToken(sub: string | undefined, args: string[], v: Values, out: Writable, err: Writable): Promise<number> {
  mkdirSync(v.dataDir, { recursive: true, mode: 0o700 });
  const consoles = new Consoles(v.dataDir);
  switch (sub) {
    case undefined:
      // The hall's own access token, for its displays (`serve` prints the URL with it).
      out.write(accessToken(v.dataDir) + '\n');
      return 0;
    case 'add': {
      if (!v.name) throw new Error('token add needs --name (the console, e.g. 台州市)');
      const { entry, token } = consoles.add(v.name, role(v.role));
      err.write(`console ${entry.id} "${entry.name}" (${entry.role}): the token below is shown once; give it to the console's operator\n`);
      out.write(token + '\n');
      return 0;
    }
    case 'list': {
      const { entries } = consoles.read();
      if (!entries.length) out.write('no console tokens\n');
      for (const c of entries) out.write(`${c.id}\t${c.name}\t${c.role}\tadded ${when(c.created)}${c.revoked ? `\trevoked ${when(c.revoked)}` : ''}\n`);
      return 0;
    }
    case 'revoke': {
      const which = args[0];
      if (!which) throw new Error('token revoke needs a console id or name');
      const ids = consoles.revoke(which);
      if (!ids.length) {
        err.write(`beacon: no live console token is called ${which}\n`);
        return 1;
      }
      out.write(`revoked ${ids.join(', ')}: a running hall closes their connections within a second\n`);
      return 0;
    }
    default:
      err.write(`beacon: unknown token command '${sub}' (add, list, revoke)\n`);
      return 2;
  }
}

/** The PIN comes from BEACON_PIN or the first line of standard input: never an argument, which
 *  every user of the machine can read in the process list. */
async function readPin(stdin: NodeJS.ReadableStream, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.BEACON_PIN) return env.BEACON_PIN;
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

export async function runOperator(sub: string | undefined, args: string[], v: Values, out: Writable, err: Writable, stdin: NodeJS.ReadableStream = process.stdin, env = process.env): Promise<number> {
  mkdirSync(v.dataDir, { recursive: true, mode: 0o700 });
  const operators = new Operators(v.dataDir);
  switch (sub) {
    case 'add': {
      if (!v.id || !v.name) throw new Error('operator add needs --id (letters and digits, e.g. zhangwei) and --name (张伟)');
      const r = role(v.role);
      if (!env.BEACON_PIN) err.write('PIN (one line on standard input): ');
      const added = await operators.put({ id: v.id, name: v.name, role: r, pin: await readPin(stdin, env) });
      out.write(`${added} operator ${v.id} "${v.name}" (${r})\n`);
      return 0;
    }
    case 'list': {
      const { entries } = operators.read();
      if (!entries.length) out.write('no operators: nobody can sign in (beacon operator add)\n');
      for (const o of entries) out.write(`${o.id}\t${o.name}\t${o.role}\n`);
      return 0;
    }
    case 'remove': {
      const id = args[0];
      if (!id) throw new Error('operator remove needs an id');
      if (!operators.remove(id)) {
        err.write(`beacon: no operator ${id}\n`);
        return 1;
      }
      out.write(`removed ${id}: a running hall signs them out within a second\n`);
      return 0;
    }
    default:
      err.write(`beacon: unknown operator command '${sub ?? ''}' (add, list, remove)\n`);
      return 2;
  }
}
