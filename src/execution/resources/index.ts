export { availableCpus, probeCpus, type CpuProbe, type CpuSource, type CpuSourceName, type ProbeEnvironment } from './cpus.js';
export { probeMemory, readOomKills, type MemoryProbe, type MemorySource, type OomKillCount } from './memory.js';
export { parseNvidiaSmi, parseVisibleDevices, probeGpus, type GpuInfo, type GpuProbe, type GpuProbeOptions } from './gpus.js';
export { GpuSlots, gpuSlotCapacity } from './gpu-slots.js';
export { THREAD_LIMIT_VARIABLES, workerEnv, type WorkerEnvOptions } from './env-limits.js';
export { formatBytes, formatDuration, parseBytes, parseDuration } from './units.js';
export { PeakRssSampler, watchPeakRss, type PeakRssSamplerOptions, type PeakRssWatch, type RunPeakRss } from './peak-rss.js';
export { ProcessTreeReader, hasProcTree, type ProcessReading } from './process-tree.js';
