use super::*;

const P: Policy = Policy {
    failures_to_down: 2,
    successes_to_up: 3,
    ramp_runs: 4,
};

fn served() -> RowState {
    RowState {
        active: true,
        healthy: true,
        fail_streak: 0,
        ok_streak: 0,
    }
}

#[test]
fn a_new_row_takes_the_first_result() {
    let r = row_step(&P, None, Class::Unhealthy);
    assert_eq!((r.active, r.healthy, r.fail_streak), (true, false, 1));
    assert!(row_step(&P, None, Class::Healthy).served());
    let r = row_step(&P, None, Class::Inactive);
    assert_eq!((r.active, r.healthy), (false, false));
}

#[test]
fn a_served_row_goes_down_only_after_n_failures() {
    let once = row_step(&P, Some(served()), Class::Unhealthy);
    assert!(once.served(), "one failure keeps it served");
    assert_eq!(once.fail_streak, 1);
    let twice = row_step(&P, Some(once), Class::Unhealthy);
    assert!(!twice.served());
    assert_eq!((twice.active, twice.fail_streak), (true, 2));
    // A success in between resets the streak.
    let reset = row_step(&P, Some(once), Class::Healthy);
    assert_eq!(reset, served());
}

#[test]
fn an_unhealthy_row_comes_back_after_m_successes() {
    let mut r = RowState {
        active: true,
        healthy: false,
        fail_streak: 5,
        ok_streak: 0,
    };
    for expected_ok in 1..3 {
        r = row_step(&P, Some(r), Class::Healthy);
        assert!(!r.served());
        assert_eq!(r.ok_streak, expected_ok);
    }
    assert!(row_step(&P, Some(r), Class::Healthy).served());
    // A failure restarts the count.
    let r = row_step(&P, Some(r), Class::Unhealthy);
    assert_eq!(r.ok_streak, 0);
}

#[test]
fn inactive_is_immediate_and_a_found_file_is_served_at_once() {
    let r = row_step(&P, Some(served()), Class::Inactive);
    assert_eq!((r.active, r.healthy), (false, false));
    // The file appeared (new release synced): no health history to wait for.
    assert!(row_step(&P, Some(r), Class::Healthy).served());
}

#[test]
fn mirror_goes_down_after_n_failed_runs() {
    let (s, t) = mirror_step(&P, MirrorState::default(), false);
    assert_eq!((s.state, s.weight_percent, t), (State::Up, 100, None));
    let (s, t) = mirror_step(&P, s, false);
    assert_eq!((s.state, s.weight_percent), (State::Down, 0));
    assert_eq!(t, Some(Transition::Down));
    let (s, t) = mirror_step(&P, s, false);
    assert_eq!((s.state, s.fail_streak, t), (State::Down, 3, None));
}

#[test]
fn recovered_mirror_ramps_back_gradually() {
    let down = MirrorState {
        state: State::Down,
        weight_percent: 0,
        fail_streak: 4,
        ok_streak: 0,
    };
    let (s, t) = mirror_step(&P, down, true);
    let (s, _) = mirror_step(&P, s, true);
    assert_eq!((s.state, t), (State::Down, None));
    let (s, t) = mirror_step(&P, s, true);
    assert_eq!((s.state, s.weight_percent), (State::Ramping, 25));
    assert_eq!(t, Some(Transition::Up));
    let mut weights = vec![];
    let mut s = s;
    while s.state == State::Ramping {
        let (n, t) = mirror_step(&P, s, true);
        assert_eq!(t, Some(Transition::Ramp));
        weights.push(n.weight_percent);
        s = n;
    }
    assert_eq!(weights, [50, 75, 100]);
    assert_eq!(s.state, State::Up);
}

#[test]
fn a_failure_while_ramping_keeps_the_weight_until_n() {
    let ramping = MirrorState {
        state: State::Ramping,
        weight_percent: 50,
        fail_streak: 0,
        ok_streak: 5,
    };
    let (s, t) = mirror_step(&P, ramping, false);
    assert_eq!((s.state, s.weight_percent, t), (State::Ramping, 50, None));
    let (s, t) = mirror_step(&P, s, false);
    assert_eq!((s.state, s.weight_percent), (State::Down, 0));
    assert_eq!(t, Some(Transition::Down));
}

#[test]
fn no_ramp_means_straight_up() {
    let p = Policy {
        ramp_runs: 0,
        successes_to_up: 1,
        ..P
    };
    let down = MirrorState {
        state: State::Down,
        weight_percent: 0,
        fail_streak: 2,
        ok_streak: 0,
    };
    let (s, t) = mirror_step(&p, down, true);
    assert_eq!(
        (s.state, s.weight_percent, t),
        (State::Up, 100, Some(Transition::Up))
    );
}

#[test]
fn flapping_needs_four_alternating_rows_at_one_rating() {
    let alt = [(true, 100), (false, 100), (true, 100), (false, 100)];
    assert!(is_flapping(&alt, 100));
    assert!(!is_flapping(&alt[..3], 100), "three rows are not enough");
    assert!(!is_flapping(&alt, 90), "the rating changed since");
    let mixed = [(true, 100), (false, 100), (true, 90), (false, 100)];
    assert!(!is_flapping(&mixed, 100));
    let steady = [(true, 100), (true, 100), (false, 100), (true, 100)];
    assert!(!is_flapping(&steady, 100));
    // Older rows beyond the fourth do not matter.
    let longer = [
        (false, 100),
        (true, 100),
        (false, 100),
        (true, 100),
        (true, 100),
    ];
    assert!(is_flapping(&longer, 100));
}

#[test]
fn rating_cut_is_ten_percent() {
    assert_eq!(cut_rating(100), 90);
    assert_eq!(cut_rating(50), 45);
    assert_eq!(cut_rating(5), 4);
    assert_eq!(cut_rating(1), 0);
    assert_eq!(cut_rating(0), 0);
}
