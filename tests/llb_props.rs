//! Property tests: for random graphs of sources, runs with bind mounts, copies, merges and
//! diffs, marshalling is deterministic, lists every op once, puts inputs before their users,
//! has metadata for every op and ends with the terminal op pointing at the head.

use std::collections::HashSet;

use bentokit::llb::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Image(u8),
    Local(u8),
    Run {
        on: usize,
        mount: Option<usize>,
        n: u8,
    },
    Copy {
        to: usize,
        from: usize,
        n: u8,
    },
    Merge(usize, usize),
    Diff(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u8>().prop_map(|n| Step::Image(n % 4)),
        any::<u8>().prop_map(|n| Step::Local(n % 3)),
        (
            any::<usize>(),
            proptest::option::of(any::<usize>()),
            any::<u8>()
        )
            .prop_map(|(on, mount, n)| Step::Run {
                on,
                mount,
                n: n % 5
            }),
        (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(to, from, n)| Step::Copy {
            to,
            from,
            n: n % 5
        }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Merge(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Diff(a, b)),
    ]
}

fn build(steps: &[Step]) -> State {
    let mut states = vec![State::scratch()];
    for s in steps {
        let pick = |i: usize| states[i % states.len()].clone();
        let next = match s {
            Step::Image(n) => Image::new(format!("img{n}")).finish().unwrap(),
            Step::Local(n) => Local::new(format!("ctx{n}"))
                .follow_paths(&["a", "b"])
                .finish(),
            Step::Run { on, mount, n } => {
                let mut e = pick(*on).add_env("N", n.to_string()).run([
                    "/bin/sh",
                    "-c",
                    &format!("step {n}"),
                ]);
                if let Some(m) = mount {
                    e = e.mount(Mount::bind("/m", &pick(*m)));
                }
                e.constraints(Constraints::new().custom_name(format!("run {n}")))
                    .finish()
                    .unwrap()
                    .root()
            }
            Step::Copy { to, from, n } => pick(*to)
                .file(
                    Copy::new(&pick(*from), format!("/src{n}"), "/dst/").create_dest_path(),
                    Constraints::new(),
                )
                .unwrap(),
            Step::Merge(a, b) => merge(&[pick(*a), pick(*b)], Constraints::new()),
            Step::Diff(a, b) => diff(&pick(*a), &pick(*b), Constraints::new()),
        };
        states.push(next);
    }
    states.pop().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn marshal_invariants(steps in proptest::collection::vec(step(), 1..25)) {
        let st = build(&steps);
        let def = st.marshal();
        prop_assert_eq!(def.to_bytes(), build(&steps).marshal().to_bytes(), "deterministic");
        let Some(head) = st.output().map(|o| o.digest().to_string()) else {
            prop_assert!(def.as_pb().def.is_empty());
            return Ok(());
        };
        let ops = def.ops().unwrap();
        let mut seen = HashSet::new();
        for (i, e) in ops.iter().enumerate() {
            prop_assert!(seen.insert(e.digest.clone()), "op listed twice");
            prop_assert!(def.as_pb().metadata.contains_key(&e.digest), "metadata for every op");
            for input in &e.op.inputs {
                let at = ops.iter().position(|o| o.digest == input.digest);
                prop_assert!(at.is_some_and(|at| at < i), "inputs come first");
            }
        }
        prop_assert!(ops.last().unwrap().op.op.is_none(), "terminal op last");
        prop_assert_eq!(def.head(), Some(head));
        prop_assert_eq!(Definition::from_bytes(&def.to_bytes()).unwrap(), def);
    }
}
