/**
 * Snapshot format 1 of the linear regression posterior (shared by `linear-gaussian` and
 * `linucb`). Plain JSON numbers; the factor is stored as is (not Λ), so a restore reproduces
 * every float and the next samples bit for bit.
 */
import { z } from 'zod';

const finite = z.number().finite();
const key = z.number().int().min(0).max(0x7fffffff);

/**
 * One block of compact dimensions: its dense part (keys in slot order, the lower factor packed
 * row by row, `y = L⁻¹b`) and its diagonal tail (keys, precisions, `b`). Item blocks of the
 * hybrid structure add the coupling rows `M` (shared dense rows × this block's dense columns).
 */
export const blockStateSchema = z
  .object({
    keys: z.array(key),
    factor: z.array(finite),
    y: z.array(finite),
    tailKeys: z.array(key),
    tailPrecision: z.array(z.number().positive()),
    tailB: z.array(finite),
    couplingRows: z.number().int().min(0).default(0),
    coupling: z.array(finite).default([]),
  })
  .strict();

/** A per-item block, keyed by the item id. */
export const itemBlockStateSchema = blockStateSchema.extend({ id: z.string() }).strict();

/** The whole posterior: fingerprint of the prior it was built with, global statistics, blocks. */
export const posteriorStateSchema = z
  .object({
    structure: z.enum(['disjoint', 'shared', 'hybrid']),
    /** Prior precision in Λ units; a config with another value cannot continue this state. */
    lambda0: z.number().positive(),
    contextBits: z.number().int().min(1).max(9),
    outcomes: z.number().int(),
    weightSum: finite,
    /** ρ² = Σw·r² − bᵀΛ⁻¹b over the dense blocks (the NIG residual term). */
    rss: z.number().min(0),
    shared: blockStateSchema.nullable(),
    items: z.array(itemBlockStateSchema),
  })
  .strict();

export type BlockState = z.output<typeof blockStateSchema>;
export type ItemBlockState = z.output<typeof itemBlockStateSchema>;
export type PosteriorState = z.output<typeof posteriorStateSchema>;
