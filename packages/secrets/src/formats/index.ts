// The format of a file and its parser.
import { parseDotenv } from './dotenv.js';
import { parseJson } from './json.js';
import type { SecretDocument, SecretFormat } from './secret-document.js';
import { parseYaml } from './yaml.js';

export { formatOfPath, type SecretDocument, type SecretEntry, type SecretFormat } from './secret-document.js';

export function parseSecretDocument(text: string, format: SecretFormat): SecretDocument {
  switch (format) {
    case 'dotenv':
      return parseDotenv(text);
    case 'json':
      return parseJson(text);
    case 'yaml':
      return parseYaml(text);
  }
}
