// Start-up of a command (issue 28): what the command line costs before the
// command's own work.
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { skipHelpCache } from '../../src/cli/parse.js';

type Internal = { getInternalMethods(): { getUsageInstance(): { hasCachedHelpMessage(): boolean } } };

async function run(skip: boolean): Promise<boolean> {
  const parser = yargs(['go']).command(
    'go',
    'a command',
    () => {},
    async () => {},
  );
  if (skip) skipHelpCache(parser);
  await parser.parseAsync();
  return (parser as unknown as Internal).getInternalMethods().getUsageInstance().hasCachedHelpMessage();
}

describe('a command run does not lay out the help text', () => {
  it('yargs keeps the help text of a command it runs unless told not to (the installed yargs still does what parse.ts works around)', async () => {
    expect(await run(false)).toBe(true);
  });

  it('with skipHelpCache it does not', async () => {
    expect(await run(true)).toBe(false);
  });
});
