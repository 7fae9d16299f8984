// Class names that differ only in case, surrounding spaces or Unicode form ('Malignant ',
// 'malignant', or an NFD 'é' from a macOS folder name) would train as separate classes.
// Every loader's classes pass through here (DatasetBuilder.finish): such variants are
// refused, or merged with labelNormalize.

/** The form variants share: trimmed, NFC, lower case. */
export const labelKey = (name: string): string => name.trim().normalize('NFC').toLowerCase();

/** A class name as merging writes it: trimmed, NFC. */
const tidy = (name: string): string => name.trim().normalize('NFC');

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** How a variant reads in a message: quoted, marked when its Unicode form is not NFC. */
const shown = (name: string): string => `'${name}'${name.normalize('NFC') === name ? '' : ' (decomposed Unicode)'}`;

/** Variants of one class, refused unless labelNormalize merges them. */
export class LabelVariantsError extends Error {
  constructor(
    readonly source: string,
    readonly listing: string,
  ) {
    super(LabelVariantsError.text(source, listing, 'labelNormalize'));
  }

  static text(source: string, listing: string, how: string): string {
    return `${source}: labels that differ only in case, spaces or Unicode form: ${listing}; fix the labels or merge them with ${how}`;
  }

  /** The same message naming another way to merge (a command-line flag). */
  withMerge(how: string): string {
    return LabelVariantsError.text(this.source, this.listing, how);
  }
}

export interface MergedLabels {
  classes: string[];
  /** New index of each old class index. */
  index: number[];
}

/**
 * Refuses (or, with `merge`, merges) classes that differ only in case, surrounding spaces or
 * Unicode form. `counts[i]` is the number of images of class i; a merged class takes the
 * name of its most frequent variant (trimmed, NFC). Returns null when nothing changes.
 */
export function mergeLabelVariants(source: string, classes: readonly string[], counts: readonly number[], merge: boolean): MergedLabels | null {
  const groups = new Map<string, number[]>();
  classes.forEach((name, i) => {
    const key = labelKey(name);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const variants = [...groups.values()].filter((g) => g.length > 1);
  const untidy = classes.some((c) => tidy(c) !== c);
  if (variants.length === 0 && !(merge && untidy)) return null;
  const nameOf = (members: number[]): string => {
    const candidates = members.map((i) => ({ name: tidy(classes[i]!), n: counts[i] ?? 0 }));
    candidates.sort((a, b) => b.n - a.n || Number(b.name === b.name.toLowerCase()) - Number(a.name === a.name.toLowerCase()) || byCodeUnit(a.name, b.name));
    return candidates[0]!.name;
  };
  if (!merge) {
    const listing = variants.map((g) => `${g.map((i) => shown(classes[i]!)).join(', ')} (class ${nameOf(g)})`).join('; ');
    throw new LabelVariantsError(source, listing);
  }
  const named = [...groups.values()].map((members) => ({ name: nameOf(members), members }));
  const fixedOrder = named.every((g, i) => g.members.length === 1 && g.members[0] === i);
  // Merged classes keep code-unit order (the order folders and manifests use); a fixed class list keeps its order.
  const ordered = fixedOrder ? named : [...named].sort((a, b) => byCodeUnit(a.name, b.name));
  const index = new Array<number>(classes.length).fill(-1);
  ordered.forEach((g, k) => g.members.forEach((i) => (index[i] = k)));
  return { classes: ordered.map((g) => g.name), index };
}
