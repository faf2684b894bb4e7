// Line syntax of kernel trace text: raw ftrace (/sys/kernel/tracing/trace),
// `trace-cmd report` and `perf script` (linux-notes §7.1, checked against
// trace_print_context(), trace-cmd's trace_show_data() and perf's
// perf_sample__fprintf_start()).

export interface TraceLine {
  comm: string;
  pid: number;
  cpu: number;
  tsNs: bigint;
  /** Tracepoint name without the system ("map", "dma_map_page"). */
  event: string;
  /** The system when the line names it (perf: "iommu:map"). */
  system?: string;
  payload: string;
}

export type LineFormat = 'ftrace' | 'perf';

// comm-pid [cpu] flags secs.usecs: event: payload. The comm may hold spaces and
// dashes: the greedy comm group leaves the last "-digits" before the CPU as the
// pid. Optional tgid column "(  123)" or "(-------)"; flags (4 to 7
// characters) are absent in trace-cmd report; event names may be padded.
const FTRACE = /^\s*(.+)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{4,8})\s+)?(\d+(?:\.\d+)?):\s+(\w+):\s*(.*)$/;
// comm tid[/pid] [cpu] secs.usecs: system:event: payload
const PERF = /^\s*(.+?)\s+(\d+)(?:\/\d+)?\s+\[(\d+)\]\s+(\d+(?:\.\d+)?):\s+(\w+):(\w+):\s*(.*)$/;

/** "327.747766" (µs), "327.747766123" (ns) or "123456789" (a non-ns clock: taken as ns) to ns. */
export function parseTimestamp(text: string): bigint {
  const dot = text.indexOf('.');
  if (dot < 0) return BigInt(text);
  const frac = text
    .slice(dot + 1)
    .padEnd(9, '0')
    .slice(0, 9);
  return BigInt(text.slice(0, dot)) * 1_000_000_000n + BigInt(frac);
}

export function parseLine(line: string, format: LineFormat | 'auto'): TraceLine | null {
  if (format !== 'ftrace') {
    const m = PERF.exec(line);
    if (m) return { comm: m[1].trim(), pid: Number(m[2]), cpu: Number(m[3]), tsNs: parseTimestamp(m[4]), system: m[5], event: m[6], payload: m[7] };
    if (format === 'perf') return null;
  }
  const m = FTRACE.exec(line);
  if (!m) return null;
  return { comm: m[1].trim(), pid: Number(m[2]), cpu: Number(m[3]), tsNs: parseTimestamp(m[5]), event: m[6], payload: m[7] };
}

/** Lines that carry no event and are not errors: headers, CPU markers, blanks. */
export function isNoise(line: string): 'header' | 'lost' | 'blank' | null {
  const t = line.trim();
  if (t === '') return 'blank';
  if (t.startsWith('#') || /^cpus=\d+$/.test(t) || /^version\s*=/.test(t)) return 'header';
  if (/^CPU:\s*\d+\s+\[(LOST \d+ EVENTS|EVENTS DROPPED)\]/.test(t) || /^##### CPU \d+ buffer started ####/.test(t)) return 'lost';
  return null;
}
