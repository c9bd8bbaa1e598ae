//! Requests through a real grid: a request the other end never answers is
//! sent a bounded number of times with growing pauses and then reported
//! failed; an answered one is completed by the caller and never sent again;
//! a key has at most one request outstanding.

mod common;

use std::time::Duration;

use common::{question, Grid, Peer, Seen, DEADLINE};
use itc_service::{Config, Dir, Error, Failure, RetryPolicy};
use test_support::wait_for;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn unanswered_requests_back_off_then_fail() {
    let grid = Grid::start("unanswered", &["--rate", "0"]);
    let a = Peer::start(Config::new(22).mount(grid.mount("r0c0"))).expect("open at r0c0");
    let b = Peer::start(Config::new(22).mount(grid.mount("r0c1"))).expect("open at r0c1");
    a.wait_seen(Seen::Connect(Dir::ET), 1);
    b.wait_seen(Seen::Connect(Dir::WT), 1);

    // Tries wait 100, 200, 400 and 800 ms: four in all.
    let policy = RetryPolicy::new(ms(100), 4);
    let (started, again) = a.call(move |svc, _| {
        let started = std::time::Instant::now();
        svc.request_with((Dir::ET, 7), Dir::ET, &question(7), policy)
            .expect("request");
        let again = svc.request((Dir::ET, 7), Dir::ET, &question(7));
        (started, again)
    });
    match again {
        Err(e @ Error::Outstanding { .. }) => {
            assert!(
                e.to_string()
                    .ends_with("request (ET, 7) is already outstanding"),
                "{e}"
            )
        }
        other => panic!("a second request for the key: {other:?}"),
    }

    let failed = |s: &Seen| matches!(s, Seen::Failed(..));
    assert!(
        wait_for(DEADLINE, || a.seen().iter().any(failed)),
        "no failure reported; saw {:?}",
        a.seen()
    );
    let Some(Seen::Failed(key, why, at)) = a.seen().into_iter().find(failed) else {
        unreachable!()
    };
    assert_eq!(key, (Dir::ET, 7));
    assert_eq!(why, Failure::TimedOut { tries: 4 });
    // Timers never fire early: the four waits add up.
    assert!(at - started >= ms(1500), "failed after {:?}", at - started);

    // Exactly four copies arrived, with pauses that grew.
    let got = b.packets(Dir::WT);
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|(p, _)| *p == question(7)));
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].1 - w[0].1).collect();
    for (gap, want) in gaps.iter().zip([ms(100), ms(200), ms(400)]) {
        // Arrival times wobble under load; half the pause is a safe floor.
        assert!(*gap >= want / 2, "gaps {gaps:?}");
    }
    assert!(got[3].1 - got[0].1 >= ms(600), "gaps {gaps:?}");

    let s = a.call(|svc, _| svc.stats());
    assert_eq!(
        (s.requests, s.timeouts, s.retries, s.failed, s.completed),
        (1, 4, 3, 1, 0),
        "{s}"
    );
    assert!(!a.call(|svc, _| svc.is_outstanding(&(Dir::ET, 7))));
    assert!(
        !a.call(|svc, _| svc.complete(&(Dir::ET, 7))),
        "a late answer"
    );
}

#[test]
fn answered_requests_complete_without_retries() {
    let grid = Grid::start("answered", &["--rate", "0"]);
    let a = Peer::start(Config::new(23).mount(grid.mount("r0c0"))).expect("open at r0c0");
    let b = Peer::start(Config::new(23).mount(grid.mount("r0c1"))).expect("open at r0c1");
    a.wait_seen(Seen::Connect(Dir::ET), 1);
    b.wait_seen(Seen::Connect(Dir::WT), 1);
    b.call(|_, rec| rec.answer = true);

    // A window of requests to one neighbour; generous timeouts, so that
    // no retry happens even on a loaded machine.
    let policy = RetryPolicy::new(Duration::from_secs(10), 3);
    let in_flight = a.call(move |svc, _| {
        for piece in 0..8 {
            svc.request_with((Dir::ET, piece), Dir::ET, &question(piece), policy)
                .expect("request");
        }
        svc.in_flight(Dir::ET)
    });
    assert_eq!(in_flight, 8);
    assert!(
        wait_for(DEADLINE, || a.call(|svc, _| svc.outstanding()) == 0),
        "answers completed every request; saw {:?}",
        a.seen()
    );
    let s = a.call(|svc, _| svc.stats());
    assert_eq!(
        (s.requests, s.completed, s.timeouts, s.retries, s.failed),
        (8, 8, 0, 0, 0),
        "{s}"
    );
    assert_eq!(b.packets(Dir::WT).len(), 8, "each request sent once");
    assert!(!a.seen().iter().any(|s| matches!(s, Seen::Failed(..))));
    // Completed keys may be asked again.
    a.call(move |svc, _| svc.request_with((Dir::ET, 0), Dir::ET, &question(0), policy))
        .expect("the key is free again");
    assert!(wait_for(DEADLINE, || a.call(|svc, _| svc.outstanding()) == 0));
}

#[test]
fn timers_fire_once_and_can_be_moved_or_cancelled() {
    let grid = Grid::start("timers", &["--rate", "0"]);
    let a = Peer::start(Config::new(24).mount(grid.mount("r0c0"))).expect("open at r0c0");
    let started = a.call(|svc, _| {
        svc.set_timer(ms(50), 1);
        svc.set_timer(ms(10), 2);
        svc.set_timer(ms(30), 2); // moved: fires once, after 3
        svc.set_timer(ms(20), 3);
        svc.set_timer(ms(10), 4);
        assert!(svc.cancel_timer(4)); // would have come first
        assert!(!svc.cancel_timer(5));
        std::time::Instant::now()
    });
    a.wait_seen(Seen::Timer(1), 1);
    assert!(started.elapsed() >= ms(50));
    let timers: Vec<Seen> = a
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::Timer(_)))
        .collect();
    // Deadlines run in order, even when several are due at once.
    assert_eq!(timers, [Seen::Timer(3), Seen::Timer(2), Seen::Timer(1)]);
}
