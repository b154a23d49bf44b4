import type { IncludeResolver, ZoneSource } from './parser.js';
import { quote } from '../../common/errors.js';

/** A zone source over text already in memory (tests, zones received by transfer). */
export function textSource(file: string, text: string, chunkSize = 1 << 16): ZoneSource {
  function* chunks(): Generator<string> {
    for (let i = 0; i < text.length; i += chunkSize) yield text.slice(i, i + chunkSize);
  }
  return { file, id: file, chunks: chunks() };
}

/** Resolves `$INCLUDE` against a set of in-memory files, by name. */
export function memoryIncludes(files: Readonly<Record<string, string>>): IncludeResolver {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`no such file ${quote(path)}`);
    return textSource(path, text);
  };
}
