/**
 * "Did you mean" suggestions for misspelt names (types, methods, attributes, bearers, paths).
 * Small and dependency-free: the candidate lists are short.
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of neighbours (optimal string
 * alignment), case-insensitive except that a case-only difference costs 1: "flaot" is one slip from
 * "float", as a person sees it.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return a === b ? 0 : 1;
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1];
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min((prev[j]) + 1, (row[j - 1]) + 1, (prev[j - 1]) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, ((rows[i - 2])[j - 2]) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[s.length])[t.length];
}

/**
 * The closest candidate to `name`, or undefined when nothing is close enough to be a plausible typo
 * (distance at most a third of the name's length, and at least 1), or when one contains the other as
 * a prefix or suffix ("tcp" for "connect.bearer.tcp").
 */
export function closestMatch(name: string, candidateNames: Iterable<string>): string | undefined {
  const candidates = [...candidateNames];
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.floor(name.length / 3));
  for (const candidate of candidates) {
    // The distance is at least the difference in length: such a candidate cannot be within the limit,
    // and skipping it keeps a hostile megabyte-long name (or thousands of candidates) cheap.
    if (candidate === name || Math.abs(candidate.length - name.length) > limit) continue;
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  const lower = name.toLowerCase();
  if (lower.length < 3) return undefined;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    if (c !== lower && (c.endsWith(lower) || c.startsWith(lower))) return candidate;
  }
  return undefined;
}

/** ` (did you mean "x"?)` or '' — ready to splice into a message after the misspelt name. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const match = closestMatch(name, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
