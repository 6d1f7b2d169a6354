"""Support cases: a person takes over from the bot in a forum topic of the staff group.

A customer has at most one active case (waiting for a first staff reply, or open). Their
messages are queued as group posts (sent within the group's flood limit by a worker), staff
replies come back. Closing a case asks for a CSAT rating; the next message opens case N+1 in
the same topic.

The package's modules, one idea each: `cases` (cases and their states), `customer` (what a
customer does: ask for a person, cancel, rate, follow up), `topics` (the customer's forum
thread), `relay` (customer -> staff, with its hot statements), `staff` (staff messages in a
topic), `posts` (cards, notices, reminders queued for staff), `queries` (read models and the
/forget scrub). Every name is re-exported here, so `core.support.x` stays the
way in.
"""

from __future__ import annotations

from core.support.cases import _CASES as _CASES
from core.support.cases import _MESSAGES as _MESSAGES
from core.support.cases import _TOPICS as _TOPICS
from core.support.cases import ACTIVE as ACTIVE
from core.support.cases import PRIORITY_CARD as PRIORITY_CARD
from core.support.cases import PRIORITY_CUSTOMER as PRIORITY_CUSTOMER
from core.support.cases import PRIORITY_EDIT as PRIORITY_EDIT
from core.support.cases import PRIORITY_REMINDER as PRIORITY_REMINDER
from core.support.cases import CaseView as CaseView
from core.support.cases import _active_row as _active_row
from core.support.cases import _case_from as _case_from
from core.support.cases import _queue_card as _queue_card
from core.support.cases import active_case as active_case
from core.support.cases import case_view as case_view
from core.support.cases import close_case as close_case
from core.support.cases import open_case as open_case
from core.support.cases import recent_case as recent_case
from core.support.cases import record_unreachable as record_unreachable
from core.support.cases import route_group as route_group
from core.support.customer import FollowUp as FollowUp
from core.support.customer import PersonRequest as PersonRequest
from core.support.customer import Rating as Rating
from core.support.customer import cancel_case as cancel_case
from core.support.customer import follow_up as follow_up
from core.support.customer import follow_up_case as follow_up_case
from core.support.customer import rate_case as rate_case
from core.support.customer import request_person as request_person
from core.support.posts import card_posted as card_posted
from core.support.posts import due_reminders as due_reminders
from core.support.posts import notify_uncertain as notify_uncertain
from core.support.posts import queue_depth as queue_depth
from core.support.posts import queue_notice as queue_notice
from core.support.posts import queue_reminder as queue_reminder
from core.support.queries import case_messages as case_messages
from core.support.queries import get_case as get_case
from core.support.queries import list_cases as list_cases
from core.support.queries import scrub_customer as scrub_customer
from core.support.relay import _ACTIVE_CASE_AND_BAN as _ACTIVE_CASE_AND_BAN
from core.support.relay import _INSERT_IN as _INSERT_IN
from core.support.relay import _INSERT_POST as _INSERT_POST
from core.support.relay import _POSTS as _POSTS
from core.support.relay import _RELAY_STATE as _RELAY_STATE
from core.support.relay import _copy_payload as _copy_payload
from core.support.relay import customer_edited as customer_edited
from core.support.relay import read_active_case_and_ban as read_active_case_and_ban
from core.support.relay import relay_customer_message as relay_customer_message
from core.support.relay import relay_into_case as relay_into_case
from core.support.staff import _ACTIVE_CASE as _ACTIVE_CASE
from core.support.staff import _MARK_DELIVERED as _MARK_DELIVERED
from core.support.staff import _STAFF_MESSAGE as _STAFF_MESSAGE
from core.support.staff import _THREAD as _THREAD
from core.support.staff import StaffMessage as StaffMessage
from core.support.staff import delivered_step as delivered_step
from core.support.staff import mark_delivered as mark_delivered
from core.support.staff import record_staff_message as record_staff_message
from core.support.staff import staff_edited as staff_edited
from core.support.staff import staff_reply as staff_reply
from core.support.staff_actions import ClosedCase as ClosedCase
from core.support.staff_actions import EditedCopy as EditedCopy
from core.support.staff_actions import QueueView as QueueView
from core.support.staff_actions import ban_topic as ban_topic
from core.support.staff_actions import close_topic_case as close_topic_case
from core.support.staff_actions import customer_unreachable as customer_unreachable
from core.support.staff_actions import is_note as is_note
from core.support.staff_actions import mirror_staff_edit as mirror_staff_edit
from core.support.staff_actions import queue_counts as queue_counts
from core.support.staff_actions import unreachable_reason as unreachable_reason
from core.support.topics import TopicView as TopicView
from core.support.topics import _by_thread as _by_thread
from core.support.topics import _thread_views as _thread_views
from core.support.topics import _topic_row as _topic_row
from core.support.topics import find_by_thread as find_by_thread
from core.support.topics import forget_thread as forget_thread
from core.support.topics import is_banned as is_banned
from core.support.topics import set_banned as set_banned
from core.support.topics import set_thread as set_thread
from core.support.topics import topic_of as topic_of
from core.support.topics import topic_view as topic_view
