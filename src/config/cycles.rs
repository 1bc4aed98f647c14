//! Finding dependency cycles among images.
//!
//! An iterative depth-first search (no recursion, so a long chain of images
//! cannot overflow the stack): every edge that leads back to an image still on
//! the search path closes one cycle, reported once.

use super::source::Pos;

/// `from` depends on `to`; `pos` is where the dependency is written.
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    pub pos: Pos,
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    /// On the search path, at this depth.
    OnPath(usize),
    Done,
}

/// Up to `limit` cycles among `nodes` nodes, each as the indices of its edges in
/// order; the last edge of each cycle is the one that closes it.
pub(crate) fn find_cycles(nodes: usize, edges: &[Edge], limit: usize) -> Vec<Vec<usize>> {
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (i, e) in edges.iter().enumerate() {
        if e.from < nodes && e.to < nodes {
            out_edges[e.from].push(i);
        }
    }
    let mut marks = vec![Mark::New; nodes];
    let mut cycles = Vec::new();
    for start in 0..nodes {
        if marks[start] == Mark::New && cycles.len() < limit {
            walk(start, &out_edges, edges, &mut marks, &mut cycles, limit);
        }
    }
    cycles
}

fn walk(
    start: usize,
    out_edges: &[Vec<usize>],
    edges: &[Edge],
    marks: &mut [Mark],
    cycles: &mut Vec<Vec<usize>>,
    limit: usize,
) {
    // The search path: (node, index of the next outgoing edge to try).
    let mut path: Vec<(usize, usize)> = vec![(start, 0)];
    // The edge that led to each path node after the first.
    let mut via: Vec<usize> = Vec::new();
    marks[start] = Mark::OnPath(0);
    while let Some(top) = path.last_mut() {
        let node = top.0;
        let Some(&edge) = out_edges[node].get(top.1) else {
            marks[node] = Mark::Done;
            path.pop();
            via.pop();
            continue;
        };
        top.1 += 1;
        let to = edges[edge].to;
        match marks[to] {
            Mark::New => {
                marks[to] = Mark::OnPath(path.len());
                path.push((to, 0));
                via.push(edge);
            }
            Mark::OnPath(depth) if cycles.len() < limit => {
                let mut cycle: Vec<usize> = via.get(depth..).unwrap_or_default().to_vec();
                cycle.push(edge);
                cycles.push(cycle);
            }
            Mark::OnPath(_) | Mark::Done => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(usize, usize)]) -> Vec<Edge> {
        list.iter().map(|&(from, to)| Edge { from, to, pos: Pos::default() }).collect()
    }

    fn cycles(nodes: usize, list: &[(usize, usize)]) -> Vec<Vec<(usize, usize)>> {
        let e = edges(list);
        find_cycles(nodes, &e, usize::MAX)
            .into_iter()
            .map(|c| c.into_iter().map(|i| (e[i].from, e[i].to)).collect())
            .collect()
    }

    #[test]
    fn finds_each_cycle_once() {
        assert!(cycles(3, &[(0, 1), (1, 2), (0, 2)]).is_empty());
        assert_eq!(cycles(2, &[(0, 1), (1, 0)]), vec![vec![(0, 1), (1, 0)]]);
        assert_eq!(cycles(1, &[(0, 0)]), vec![vec![(0, 0)]]);
        assert_eq!(cycles(4, &[(0, 1), (1, 2), (2, 1), (3, 0)]), vec![vec![(1, 2), (2, 1)]]);
    }

    #[test]
    fn long_chains_do_not_overflow() {
        let n = 200_000;
        let mut list: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        list.push((n - 1, 0));
        let found = cycles(n, &list);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n);
    }

    #[test]
    fn many_back_edges_stay_cheap() {
        let n = 50_000;
        let mut list: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        list.extend((1..n).map(|i| (i, 0)));
        let e = edges(&list);
        let found = find_cycles(n, &e, 5);
        assert_eq!(found.len(), 5);
    }
}
