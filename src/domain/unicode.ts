// Text that crosses into bytes (UTF-8) must be well-formed Unicode.
import { validationError } from './errors.js';

declare global {
  // ES2024 (Node 20 has them; the compiler's library is ES2022).
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

// UTF-8 encodes every lone surrogate as U+FFFD, so {"k":"\ud800"} and {"k":"\ufffd"} would bind
// the same bytes: such text is refused, never encoded.

/** Throws ValidationError for text that is not well-formed Unicode (a lone surrogate). */
export function assertWellFormed(text: string, what: string): void {
  if (!text.isWellFormed()) {
    throw validationError(`${what} must be well-formed Unicode (it holds a lone surrogate)`);
  }
}
