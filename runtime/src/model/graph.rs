//! Dependency graphs over indexes: cycle detection and ordering in waves
//! (every node after all of its dependencies; independent nodes together).

/// A cycle among `dependencies` (node → the nodes it depends on), as the
/// list of nodes along it with the first repeated at the end, if any.
pub fn find_cycle(dependencies: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; dependencies.len()];
    for start in 0..dependencies.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (node, next edge to follow).
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(&mut (node, ref mut edge)) = path.last_mut() {
            match dependencies[node].get(*edge) {
                Some(&next) => {
                    *edge += 1;
                    match marks[next] {
                        Mark::New => {
                            marks[next] = Mark::OnPath;
                            path.push((next, 0));
                        }
                        Mark::OnPath => {
                            let from = path.iter().position(|&(n, _)| n == next).expect("on path");
                            let mut cycle: Vec<usize> =
                                path[from..].iter().map(|&(n, _)| n).collect();
                            cycle.push(next);
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    }
                }
                None => {
                    marks[node] = Mark::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

/// Orders an acyclic graph in waves: wave 0 holds nodes with no
/// dependencies, wave n those whose dependencies are all in earlier waves.
pub fn waves(dependencies: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut wave_of: Vec<Option<usize>> = vec![None; dependencies.len()];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut remaining: Vec<usize> = (0..dependencies.len()).collect();
    while !remaining.is_empty() {
        let current = waves.len();
        let (ready, blocked): (Vec<usize>, Vec<usize>) = remaining.into_iter().partition(|&node| {
            dependencies[node]
                .iter()
                .all(|&dep| wave_of[dep].is_some_and(|wave| wave < current))
        });
        assert!(!ready.is_empty(), "waves() needs an acyclic graph");
        for &node in &ready {
            wave_of[node] = Some(current);
        }
        waves.push(ready);
        remaining = blocked;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_with_their_members() {
        // 0 → 1 → 2 → 0, and 3 → 0.
        let graph = vec![vec![1], vec![2], vec![0], vec![0]];
        assert_eq!(find_cycle(&graph), Some(vec![0, 1, 2, 0]));
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
        assert_eq!(find_cycle(&[vec![1], vec![]]), None);
    }

    #[test]
    fn waves_put_each_node_after_its_dependencies() {
        // 2 depends on 0 and 1; 3 on 2; 4 on nothing.
        let graph = vec![vec![], vec![], vec![0, 1], vec![2], vec![]];
        assert_eq!(waves(&graph), vec![vec![0, 1, 4], vec![2], vec![3]]);
    }
}
