/**
 * JSON bodies with a bounded structure: before `JSON.parse` builds anything, one pass over the text
 * refuses nesting deeper than `maxDepth`, containers with more than `maxItems` entries and keys given
 * twice in one object, so a few megabytes of `[{},{},…]` or `[[[[…]]]]` cost a scan, not a gigabyte
 * of objects, and no field is silently replaced by a later one.
 *
 * @example
 * const body = parseBoundedJson(text, { maxDepth: 6, maxItems: 64 });
 */
import { brief, RequestError } from './errors.js';

export interface JsonBounds {
  maxDepth: number;
  maxItems: number;
}

/**
 * Checks the structure of JSON text (value strings skipped), then parses it. An object that gives
 * a key twice is refused (`duplicate_key`, naming it), where JSON.parse would keep the last.
 */
export function parseBoundedJson(text: string, bounds: JsonBounds): unknown {
  // One frame per open container: its entry count and, for an object, its keys so far.
  const frames: { entries: number; keys: Set<string> | null }[] = [];
  let inString = false;
  let stringStart = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash: skip the escaped character
      else if (ch === 34) {
        inString = false;
        const top = frames[frames.length - 1];
        if (expectKey && top?.keys) {
          const key = JSON.parse(text.slice(stringStart, i + 1)) as string;
          if (top.keys.has(key))
            throw new RequestError(400, 'duplicate_key', `the JSON body gives ${brief(key, 40)} twice in one object: give each field once`);
          top.keys.add(key);
          expectKey = false;
        }
      }
      continue;
    }
    if (ch === 34) {
      inString = true;
      stringStart = i;
    } else if (ch === 123 || ch === 91) {
      frames.push({ entries: 0, keys: ch === 123 ? new Set() : null });
      expectKey = ch === 123;
      if (frames.length > bounds.maxDepth) throw new RequestError(400, 'bad_json', `the JSON body nests deeper than ${bounds.maxDepth} levels`);
    } else if (ch === 125 || ch === 93) {
      frames.pop();
      expectKey = false;
    } else if (ch === 44 && frames.length) {
      const top = frames[frames.length - 1];
      expectKey = top.keys !== null;
      if (++top.entries >= bounds.maxItems)
        throw new RequestError(400, 'bad_json', `a JSON array or object in the body has more than ${bounds.maxItems} entries`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError(400, 'bad_json', 'the body is not valid JSON');
  }
}
