/**
 * JSON bodies with a bounded structure: before `JSON.parse` builds anything, one pass over the text
 * refuses nesting deeper than `maxDepth` and containers with more than `maxItems` entries, so a few
 * megabytes of `[{},{},…]` or `[[[[…]]]]` cost a scan, not a gigabyte of objects.
 *
 * @example
 * const body = parseBoundedJson(text, { maxDepth: 6, maxItems: 64 });
 */
import { RequestError } from './errors.js';

export interface JsonBounds {
  maxDepth: number;
  maxItems: number;
}

/** Checks the structure of JSON text (strings skipped), then parses it. */
export function parseBoundedJson(text: string, bounds: JsonBounds): unknown {
  const counts: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) {
      counts.push(0);
      if (counts.length > bounds.maxDepth) throw new RequestError(400, 'bad_json', `the JSON body nests deeper than ${bounds.maxDepth} levels`);
    } else if (ch === 125 || ch === 93) counts.pop();
    else if (ch === 44 && counts.length) {
      if (++counts[counts.length - 1] >= bounds.maxItems)
        throw new RequestError(400, 'bad_json', `a JSON array or object in the body has more than ${bounds.maxItems} entries`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError(400, 'bad_json', 'the body is not valid JSON');
  }
}
