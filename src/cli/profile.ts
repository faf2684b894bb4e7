// --profile FILE: a V8 CPU profile of the run, for users who want to see where
// time goes on their own traces (open the file in Chrome DevTools' Performance
// panel or speedscope). The same as `node --cpu-prof`, without node flags.
// The inspector is loaded only when --profile is given.
import path from 'node:path';
import type { Session } from 'node:inspector/promises';
import { ensureDir, writeFileAtomic } from '../files.js';
import { InputError } from '../errors.js';
import fs from 'node:fs';

let session: Session | undefined;
let target: string | undefined;

export async function startProfileIfAsked(argv: { profile?: unknown }): Promise<void> {
  if (typeof argv.profile !== 'string' || session) return;
  target = argv.profile;
  ensureDir(path.dirname(target));
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) throw new InputError(`Cannot write "${target}": it is a directory`);
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}

export async function stopProfile(): Promise<void> {
  if (!session || !target) return;
  const { profile } = await session.post('Profiler.stop');
  writeFileAtomic(target, JSON.stringify(profile));
  session.disconnect();
  process.stderr.write(`CPU profile: ${target}\n`);
  session = undefined;
}
