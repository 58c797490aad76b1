/**
 * Optimal string alignment distance: Levenshtein plus adjacent transpositions, because swapped
 * letters ("drian" for "drain") are the commonest typo in hand-written rule documents and plain
 * Levenshtein would charge them double.
 */
export function editDistance(a: string, b: string): number {
  // Three rolling rows keep this O(|b|) in memory; metric names are short but catalogues are not.
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, beforePrevious[j - 2]! + 1);
      }
      current.push(best);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The closest candidate, if it is close enough to be what the author meant. The allowance grows
 * with the word so "temp" does not suggest "rpm" while long snake_case names tolerate two slips.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const allowance = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = allowance + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
