import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the results were measured on; stored with every result file so runs can be compared honestly. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  node: string;
  os: string;
  totalMemoryMB: number;
  date: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews figures. */
  loadAverage?: { start: number; end: number };
}

/** CPU, cores, Node version, OS and date of this run. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemoryMB: Math.round(os.totalmem() / 2 ** 20),
    date: new Date().toISOString(),
  };
}

/** True where /proc/<pid>/status and /proc/<pid>/stat exist (Linux): RSS and CPU of other processes. */
export function hasProcfs(): boolean {
  try {
    readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** Resident set size of `pid` in MB, from VmRSS in /proc/<pid>/status. */
export function readRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100; // the value on every mainstream Linux build
    }
  }
  return clockTicks;
}

/**
 * CPU seconds (user + system) used so far by `pid`, from utime and stime in /proc/<pid>/stat.
 * Resolution is one clock tick (usually 10 ms): measure long enough that this does not matter.
 */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]); // field 14
  const stime = Number(rest[12]); // field 15
  return (utime + stime) / ticksPerSecond();
}
