//! The canonical tile grid of a Gram computation and the placement of tile results.
//!
//! K is contracted tile by tile: a *virtual tile* is (a tile of examples, a virtual output v);
//! a [`TileTask`] contracts two virtual tiles with one kernel call. Tiles hold
//! [`tile_size`]`(block, target)` consecutive examples counted from example 0, a multiple of the block
//! size, so that a row slab (`--rows i..j`) makes exactly the kernel calls the unsharded run
//! makes for its rows — same shapes, same operands — and its values are bit-identical to the
//! same rows of the unsharded K (the f32 GEMM rounds differently for different shapes, so this
//! matters). For a square K only pairs with (I, v) ≤ (J, w) are contracted and mirrored.

use std::ops::Range;

use crate::ntk::outputs::Layout;

/// Default examples per tile, at least: large enough for efficient GEMMs, small enough to bound
/// the tile buffers.
pub const TILE_TARGET: usize = 128;

/// Examples per tile for a block size: the smallest multiple of `block` ≥ `target`.
pub fn tile_size(block: usize, target: usize) -> usize {
    let block = block.max(1);
    block * target.max(1).div_ceil(block)
}

/// Tiles over the examples `start..end` of one side (`start` a multiple of `tile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Examples per tile.
    pub tile: usize,
    /// First example.
    pub start: usize,
    /// One past the last example.
    pub end: usize,
}

impl Grid {
    /// Number of tiles.
    pub fn count(&self) -> usize {
        (self.end - self.start).div_ceil(self.tile)
    }

    /// Examples (global indices) of tile `k`.
    pub fn range(&self, k: usize) -> Range<usize> {
        let s = self.start + k * self.tile;
        s..(s + self.tile).min(self.end)
    }

    /// Examples of tile `k` relative to `start` (indices into this side's stored examples).
    pub fn local(&self, k: usize) -> Range<usize> {
        let r = self.range(k);
        r.start - self.start..r.end - self.start
    }
}

/// One kernel call: virtual tile (row tile, v) against (column tile, w).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileTask {
    /// Tile of the row side.
    pub row_tile: usize,
    /// Virtual output of the row side.
    pub v: usize,
    /// Tile of the column side.
    pub col_tile: usize,
    /// Virtual output of the column side.
    pub w: usize,
    /// Square K, different virtual tiles: also place the transpose.
    pub mirror: bool,
    /// Square K, the same virtual tile on both sides (the kernel sees X = Y).
    pub diagonal: bool,
}

/// The tasks that produce the rows `slab` of K: for a square K (`square`, one grid) the pairs
/// (I, v) ≤ (J, w) touching the slab; otherwise every row tile × every column tile.
pub fn tasks(rows: &Grid, cols: &Grid, layout: &Layout, square: bool, slab: &Range<usize>) -> Vec<TileTask> {
    let touches = |k: usize| {
        let r = rows.range(k);
        r.start < slab.end && slab.start < r.end
    };
    let vs = layout.virtuals;
    let mut out = Vec::new();
    for i in 0..rows.count() {
        for v in 0..vs {
            for j in if square { i } else { 0 }..cols.count() {
                for w in 0..vs {
                    if !layout.needs(v, w) || (square && i == j && w < v) {
                        continue;
                    }
                    let diagonal = square && i == j && v == w;
                    if touches(i) || (square && !diagonal && touches(j)) {
                        out.push(TileTask { row_tile: i, v, col_tile: j, w, mirror: square && !diagonal, diagonal });
                    }
                }
            }
        }
    }
    out
}

/// Add a task's `[|I|, |J|]` result into the slab buffer `out` (`[slab rows, cols, entry]`),
/// and its transpose when the task mirrors.
pub fn place(
    task: &TileTask,
    tile: &[f64],
    rows: &Grid,
    cols: &Grid,
    layout: &Layout,
    slab: &Range<usize>,
    out: &mut [f64],
) {
    let (ri, cj) = (rows.range(task.row_tile), cols.range(task.col_tile));
    let width = cj.len();
    for (a, i) in ri.clone().enumerate() {
        if slab.contains(&i) {
            for (b, j) in cj.clone().enumerate() {
                out[layout.index(i - slab.start, j, task.v, task.w)] += tile[a * width + b];
            }
        }
    }
    if task.mirror {
        for (b, j) in cj.enumerate() {
            if slab.contains(&j) {
                for (a, i) in ri.clone().enumerate() {
                    out[layout.index(j - slab.start, i, task.w, task.v)] += tile[a * width + b];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntk::outputs::OutputMode;

    #[test]
    fn tiles_are_block_multiples_from_zero() {
        assert_eq!(tile_size(8, TILE_TARGET), 128);
        assert_eq!(tile_size(3, TILE_TARGET), 129);
        assert_eq!(tile_size(200, TILE_TARGET), 200);
        assert_eq!(tile_size(2, 3), 4);
        let g = Grid { tile: 4, start: 4, end: 11 };
        assert_eq!((g.count(), g.range(1), g.local(1)), (2, 8..11, 4..7));
    }

    #[test]
    fn square_tasks_cover_every_needed_pair_once() {
        for mode in [OutputMode::Margin, OutputMode::Trace, OutputMode::Full] {
            let layout = Layout::new(mode, 2, 7);
            let grid = Grid { tile: 3, start: 0, end: 7 };
            let all = tasks(&grid, &grid, &layout, true, &(0..7));
            // Placing ones counts how often each (i, j, v, w) entry is written.
            let mut count = vec![0.0; 7 * 7 * layout.entry()];
            for t in &all {
                let ones = vec![1.0; grid.range(t.row_tile).len() * grid.range(t.col_tile).len()];
                place(t, &ones, &grid, &grid, &layout, &(0..7), &mut count);
            }
            let per_entry = if mode == OutputMode::Trace { 2.0 } else { 1.0 };
            assert!(count.iter().all(|&c| c == per_entry), "{mode:?}: {count:?}");
            // A slab makes a subset of the same calls and fills its rows the same way.
            let slab = 2..5;
            let some = tasks(&grid, &grid, &layout, true, &slab);
            assert!(some.iter().all(|t| all.contains(t)) && some.len() < all.len());
            let mut rows = vec![0.0; slab.len() * 7 * layout.entry()];
            for t in &some {
                let ones = vec![1.0; grid.range(t.row_tile).len() * grid.range(t.col_tile).len()];
                place(t, &ones, &grid, &grid, &layout, &slab, &mut rows);
            }
            assert!(rows.iter().all(|&c| c == per_entry), "{mode:?} slab");
        }
    }
}
