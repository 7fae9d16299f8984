// The data's classes against a model's: by name, optionally through a class map
// (`--class-map old=new,...`), each data class must be one of the model's. The data may
// lack some of the model's classes (a test set without one grade); it may not have others.

/** Parses `a=x,b=y` into pairs; a malformed entry or a class mapped twice throws. */
export function parseClassMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]+)=([^=]+)$/.exec(part);
    if (!m) throw new Error(`--class-map must be old=new pairs separated by commas, like benign=0,malignant=1; got '${part}'`);
    const from = m[1]!.trim();
    if (from in map) throw new Error(`--class-map maps '${from}' twice`);
    map[from] = m[2]!.trim();
  }
  return map;
}

/**
 * For each data class (in order), the index of the model class it is. Throws naming both
 * lists when a data class is not one of the model's, with the --class-map that would pair
 * the unmatched ones in order; and when the map names a class the data does not have.
 */
export function matchClasses(dataClasses: readonly string[], modelClasses: readonly string[], classMap: Readonly<Record<string, string>> = {}): number[] {
  const unknown = Object.keys(classMap).filter((c) => !dataClasses.includes(c));
  if (unknown.length > 0)
    throw new Error(`--class-map names ${unknown.map((c) => `'${c}'`).join(', ')}, not a class of the data (${dataClasses.join(', ')})`);
  const mapped = dataClasses.map((c) => classMap[c] ?? c);
  const index = mapped.map((c) => modelClasses.indexOf(c));
  if (index.some((i) => i < 0)) {
    if (Object.keys(classMap).length > 0) {
      const bad = dataClasses.filter((_, i) => index[i]! < 0).map((c) => `${c}=${classMap[c] ?? c}`);
      throw new Error(`--class-map ${bad.join(', ')}: not the model's classes (${modelClasses.join(', ')})`);
    }
    const left = dataClasses.filter((c) => !modelClasses.includes(c));
    const free = modelClasses.filter((c) => !dataClasses.includes(c));
    const hint = left.map((c, i) => `${c}=${free[i] ?? free[free.length - 1] ?? modelClasses[0]}`).join(',');
    throw new Error(`the data's classes (${dataClasses.join(', ')}) are not the model's (${modelClasses.join(', ')}); map them with --class-map ${hint}`);
  }
  return index;
}
