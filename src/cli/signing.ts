// `keyhaven sign|verify`: asymmetric signatures made and checked by the server; messages come from a
// file or stdin, either as-is (RAW), already hashed (--digest), or hashed here (--hash).
import { Command, Option } from 'commander';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MessageType, SigningAlgorithm } from '../client/index.js';
import { SIGNING_ALGORITHMS, hashOf } from '../domain/key-spec.js';
import { isPaddedBase64 } from '../domain/base64.js';
import { createClient, emit } from './cli-context.js';
import { usageError } from './cli-error.js';
import { fileError, openInput, readInput, writeOutput } from './io.js';
import { parseBase64 } from './option-parsers.js';

interface MessageOptions {
  keyId: string;
  algorithm: SigningAlgorithm;
  in?: string;
  digest?: boolean;
  hash?: boolean;
}

const messageOptions = (command: Command) =>
  command
    .requiredOption('--key-id <keyId>', 'the SIGN_VERIFY key (id or alias)')
    .addOption(
      new Option('--algorithm <algorithm>', 'signing algorithm')
        .choices(SIGNING_ALGORITHMS)
        .makeOptionMandatory(),
    )
    .option('--in <file>', 'the message: a file, or - for stdin', '-')
    .option('--digest', 'the input already is the digest of the message (message type DIGEST)')
    .option(
      '--hash',
      "hash the input here with the algorithm's hash and send the digest (any size of input)",
    );

/** The bytes to send and how the server should read them. */
async function loadMessage(options: MessageOptions): Promise<{ message: Buffer; messageType: MessageType }> {
  if (options.digest && options.hash) throw usageError('--digest and --hash exclude each other');
  if (!options.hash) {
    return { message: await readInput(options.in), messageType: options.digest ? 'DIGEST' : 'RAW' };
  }
  if (options.algorithm === 'ED25519_SHA_512')
    throw usageError('ED25519_SHA_512 signs the whole message; drop --hash');
  const hash = createHash(hashOf(options.algorithm));
  const { stream } = await openInput(options.in);
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer);
  } catch (cause) {
    throw fileError(`cannot read ${options.in}`, cause);
  }
  return { message: hash.digest(), messageType: 'DIGEST' };
}

export function registerSigningCommands(program: Command): void {
  messageOptions(program.command('sign').description('sign a message with an asymmetric key'))
    .option('--out <file>', 'write the raw signature bytes to this file (default: base64 on stdout)')
    .addHelpText(
      'after',
      `
Examples:
  $ keyhaven sign --key-id alias/release --algorithm ECDSA_SHA_256 --in release.tar --hash > release.sig
  $ printf 'hello' | keyhaven sign --key-id alias/release --algorithm ECDSA_SHA_256`,
    )
    .action(async (options: MessageOptions & { out?: string }, command: Command) => {
      const { message, messageType } = await loadMessage(options);
      const result = await createClient(command).sign({
        keyId: options.keyId,
        message,
        messageType,
        algorithm: options.algorithm,
      });
      if (options.out) await writeOutput(options.out, result.signature);
      emit(command, result, () => (options.out ? '' : `${result.signature.toString('base64')}\n`));
    });

  messageOptions(
    program.command('verify').description('verify a signature; exit code 0 when valid, 1 when not'),
  )
    .option('--signature <file>', 'file holding the signature, raw or base64')
    .option('--signature-base64 <base64>', 'the signature itself, base64', parseBase64)
    .addHelpText(
      'after',
      `
Prints "valid" or "invalid"; an invalid signature exits with code 1.

Examples:
  $ keyhaven verify --key-id alias/release --algorithm ECDSA_SHA_256 --in release.tar --hash \\
      --signature release.sig`,
    )
    .action(
      async (
        options: MessageOptions & { signature?: string; signatureBase64?: Buffer },
        command: Command,
      ) => {
        const signature = await loadSignature(options);
        const { message, messageType } = await loadMessage(options);
        const result = await createClient(command).verify({
          keyId: options.keyId,
          message,
          messageType,
          algorithm: options.algorithm,
          signature,
        });
        emit(command, result, () => (result.valid ? 'valid\n' : 'invalid\n'));
        if (!result.valid) process.exitCode = 1;
      },
    );
}

async function loadSignature(options: { signature?: string; signatureBase64?: Buffer }): Promise<Buffer> {
  if (options.signature !== undefined && options.signatureBase64 !== undefined) {
    throw usageError('give --signature or --signature-base64, not both');
  }
  if (options.signatureBase64 !== undefined) return options.signatureBase64;
  if (options.signature === undefined)
    throw usageError('a signature is needed: --signature FILE or --signature-base64');
  let contents: Buffer;
  try {
    contents = await readFile(options.signature);
  } catch (cause) {
    throw fileError(`cannot read ${options.signature}`, cause);
  }
  // `keyhaven sign > sig` writes base64 text, `--out sig` raw bytes; accept both. Raw signatures are
  // DER or random-looking bytes, which are practically never all base64 characters.
  const text = contents.toString('latin1').trim();
  if (text.length > 0 && isPaddedBase64(text)) {
    return Buffer.from(text, 'base64');
  }
  return contents;
}
