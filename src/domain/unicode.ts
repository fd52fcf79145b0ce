// Text that crosses into bytes (UTF-8) must be well-formed Unicode.
import { validationError } from './errors.js';

// In a `u` regular expression a well-formed surrogate pair is one code point, so only a lone
// surrogate matches. UTF-8 encodes every lone surrogate as U+FFFD, so {"k":"\ud800"} and
// {"k":"\ufffd"} would bind the same bytes: such text is refused, never encoded.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Throws ValidationError for text that is not well-formed Unicode (a lone surrogate). */
export function assertWellFormed(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw validationError(`${what} must be well-formed Unicode (it holds a lone surrogate)`);
  }
}
