//! The port contract, written once and run against both adapter sets: the embedded one
//! (SQLite, outbox) and the AWS one (DynamoDB + Streams, SQS, SES v2 on the local emulator).
//! A behavior the pipeline relies on belongs here, so both deployments keep it.

mod backends;
mod event_log;
mod feed;
mod fixtures;
mod journeys;
mod ledger;
mod mailer;
mod privacy;
mod queue;
mod sources;
mod templates;
mod timers;

macro_rules! contract {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test] async fn $test() { crate::$module::$test(crate::backends::Embedded::new().await).await } )*
        }
        mod aws {
            $( #[tokio::test] async fn $test() { crate::$module::$test(crate::backends::Aws::new().await).await } )*
        }
    };
}

contract!(
    event_log::records_a_new_event_and_builds_the_profile,
    event_log::the_same_message_id_twice_is_stored_once,
    event_log::concurrent_duplicates_store_one_event,
    event_log::an_unknown_person_has_no_profile,
    feed::recorded_events_come_in_order_until_committed,
    feed::a_duplicate_event_is_not_fed_twice,
    feed::an_added_catalog_item_is_fed_once_and_an_update_is_not,
    queue::enqueued_jobs_are_received_intact_and_acknowledged,
    queue::an_unacknowledged_job_comes_back,
    queue::more_jobs_than_one_batch_all_arrive,
    ledger::only_one_claim_wins_until_settled,
    ledger::a_lapsed_claim_is_taken_over,
    ledger::a_released_claim_can_be_claimed_again,
    ledger::concurrent_claims_have_one_winner,
    ledger::sends_are_listed_per_person,
    timers::timers_come_due_in_order_and_once,
    timers::scheduling_the_same_job_twice_keeps_one_timer,
    mailer::a_raw_message_arrives_intact,
    sources::a_source_is_found_by_its_key_hash_only,
    privacy::history_lists_a_persons_events_newest_first_with_merged_ids,
    privacy::erasing_a_person_removes_everything_and_suppresses_their_address,
    event_log::every_call_type_and_field_round_trips,
    event_log::a_group_call_sets_the_accounts_traits,
    event_log::an_identify_with_an_anonymous_id_merges_the_visitors_history,
    event_log::an_alias_links_a_previous_id_and_what_it_had_merged,
    templates::saving_a_changed_template_makes_a_new_version_and_keeps_the_newest,
    templates::preferences_are_kept_per_person_and_erased_with_them,
    templates::archived_messages_are_kept_until_they_expire_and_erased_with_the_person,
    journeys::entries_follow_the_reentry_policy,
    journeys::the_goal_just_before_the_deadline_cancels_the_nudge_and_just_after_does_not,
    journeys::two_carts_at_once_are_two_journeys_each_ended_by_its_own_order,
    journeys::the_audience_is_checked_on_entry_and_a_branch_when_it_is_reached,
    journeys::the_frequency_cap_holds_across_campaigns_and_spares_transactional_mail,
    journeys::a_send_due_in_quiet_hours_waits_for_the_morning_where_the_person_is,
    journeys::new_content_goes_to_the_people_interested_in_it_once,
    journeys::joining_a_segment_starts_a_journey_once,
);
