// Summaries shared by the benchmark scripts: medians with min and max, and figures as printed.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarise(samples) {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

export const format = (value, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
