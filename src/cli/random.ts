// `keyhaven random`: random bytes from the server's generator (the HSM's when there is one).
import { Command, Option } from 'commander';
import { createClient, globalOptions } from './cli-context.js';
import { writeOutput } from './io.js';
import { writeJson } from './output.js';
import { parseInteger } from './option-parsers.js';

/** The API hands out at most this many bytes per request; larger requests are split. */
const MAX_BYTES_PER_REQUEST = 1024;
const MAX_BYTES = 1024 * 1024;

export function registerRandomCommand(program: Command): void {
  program
    .command('random')
    .description('print random bytes from the server')
    .requiredOption('--bytes <n>', `how many bytes (1..${MAX_BYTES})`, parseInteger(1, MAX_BYTES))
    .addOption(
      new Option('--encoding <encoding>', 'output encoding')
        .choices(['base64', 'hex', 'raw'])
        .default('base64'),
    )
    .option('--out <file>', 'write the raw bytes to this file')
    .action(
      async (
        options: { bytes: number; encoding: 'base64' | 'hex' | 'raw'; out?: string },
        command: Command,
      ) => {
        const client = createClient(command);
        const parts: Buffer[] = [];
        for (let remaining = options.bytes; remaining > 0; remaining -= MAX_BYTES_PER_REQUEST) {
          parts.push(await client.random(Math.min(remaining, MAX_BYTES_PER_REQUEST)));
        }
        const random = Buffer.concat(parts);
        if (options.out) await writeOutput(options.out, random, { mode: 0o600 });
        else if (globalOptions(command).json) writeJson(process.stdout, { random });
        else if (options.encoding === 'raw') await writeOutput('-', random);
        else process.stdout.write(`${random.toString(options.encoding)}\n`);
        random.fill(0);
      },
    );
}
