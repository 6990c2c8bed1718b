import path from 'node:path';
import type { PlannedPlate } from '../run/run-plate.js';
import type { PlateInfo } from './state.js';

/**
 * What the dashboard needs of a planned plate: its tasks, where they sit, and (`inputs`, for a
 * live dashboard's input thumbnails) where their images are. The event log leaves the inputs out.
 */
export function plateInfo(planned: PlannedPlate, name: string, options: { readonly inputs?: boolean } = {}): PlateInfo {
  const compiled = planned.coordinator.compiled!;
  const axis = compiled.config.axis;
  const withInputs = options.inputs ?? true;
  return {
    name,
    root: planned.plate.root,
    format: planned.plate.format,
    axis: typeof axis === 'string' ? [axis] : [...axis],
    wells: planned.plate.components.well ?? [],
    grid: planned.plate.grid ?? null,
    outputRoot: planned.outputRoot,
    steps: compiled.steps.map((s) => s.name),
    tasks: [...planned.tasks.values()].map((plan) => ({
      id: plan.taskId,
      axis: plan.axis,
      ...(withInputs
        ? {
            inputs: plan.inputs.map((r) => ({
              file: path.join(plan.plate.root, r.path),
              ...(r.page !== undefined ? { page: r.page } : {}),
              label: Object.entries(r.components).filter(([k]) => k !== 'well').map(([k, v]) => `${k} ${v}`).join(', '),
            })),
          }
        : {}),
    })),
  };
}
