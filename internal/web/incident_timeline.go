package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// An incident's timeline, as PagerDuty's incident page and Grafana's alert
// state history show one: what happened to it, in order, with who did it
// and how long on-call took to ack and to resolve. It is read from the
// incident, the alerts enqueued for it, the audit log's acks and the
// silences that covered its check while it was open.

// timelineView is an incident with its timeline.
type timelineView struct {
	Incident *incidentView
	Entries  []timelineEntry
	// TimeToAck and TimeToResolve are measured from the opening; "" until
	// it happens.
	TimeToAck, TimeToResolve string
}

// timelineEntry is one thing that happened to an incident.
type timelineEntry struct {
	At     when
	Kind   string // opened, reminder, acked, silenced, silence-ended, silence-expired, resolved
	Title  string // "Acknowledged by alice"
	Detail string // the note, the reason, until when
	t      time.Time
}

// ackTarget is the audit target of an ack of incident in (see doAck).
func ackTarget(in store.Incident) string { return fmt.Sprintf("incident %d (%s)", in.ID, in.CheckID) }

// incidentTimeline reads the timeline of in, whose check carries tags.
func (s *Server) incidentTimeline(ctx context.Context, vc viewClock, in store.Incident, tags []string) (timelineView, error) {
	v := timelineView{Incident: newIncidentView(in, vc)}
	add := func(t time.Time, kind, title, detail string) {
		v.Entries = append(v.Entries, timelineEntry{At: vc.at(t), Kind: kind, Title: title, Detail: detail, t: t})
	}
	end := in.ResolvedAt
	if end.IsZero() {
		end = vc.now
	}

	opened := "Opened"
	detail := fmt.Sprintf("%s, %s", in.OpenedStatus, plural(in.WorstViolations, "violation")+" at worst")
	if in.CheckBroken() {
		detail = "the check could not run"
	}
	if in.Since.Before(in.OpenedAt) {
		detail += "; not passing since " + vc.at(in.Since).Abs
	}
	add(in.OpenedAt, "opened", opened, detail)

	alerts, err := s.store.IncidentAlerts(ctx, in.ID)
	if err != nil {
		return timelineView{}, err
	}
	for _, a := range alerts {
		switch a.Kind {
		case store.OutboxReminder:
			add(a.CreatedAt, "reminder", "Reminder sent", "nobody had acknowledged it")
		case store.OutboxSilenceExpired:
			add(a.CreatedAt, "reminder", "Alert sent again", "the silence ran out while it was still open")
		}
	}

	acks, err := s.store.AuditEntries(ctx, "ack", ackTarget(in))
	if err != nil {
		return timelineView{}, err
	}
	var firstAck time.Time
	for _, a := range acks {
		note, _ := strings.CutPrefix(a.Detail, "note: ")
		if note == "acknowledged" {
			note = ""
		}
		add(a.At, "acked", "Acknowledged by "+a.Actor, note)
		if firstAck.IsZero() {
			firstAck = a.At
		}
	}
	if len(acks) == 0 && in.Acked() { // acknowledged without the dashboard
		add(in.AckedAt, "acked", "Acknowledged by "+in.AckedBy, in.AckNote)
		firstAck = in.AckedAt
	}

	silences, err := s.store.SilencesBetween(ctx, in.OpenedAt, end.Add(time.Nanosecond))
	if err != nil {
		return timelineView{}, err
	}
	for _, sl := range silences {
		if !sl.Matches(in.CheckID, tags) {
			continue
		}
		what := "Silenced by " + sl.Author
		if sl.Matcher != in.CheckID {
			what += " (tag " + sl.Matcher + ")"
		}
		at := sl.StartsAt
		if at.Before(in.OpenedAt) {
			at, what = in.OpenedAt, "Already silenced by "+sl.Author
		}
		add(at, "silenced", what, "until "+vc.at(sl.Until).Abs+": "+sl.Reason)
		switch {
		case !sl.ExpiredAt.IsZero() && !sl.ExpiredAt.After(end):
			add(sl.ExpiredAt, "silence-ended", "Silence ended early by "+sl.ExpiredBy, "")
		case sl.ExpiredAt.IsZero() && !sl.Until.After(end):
			add(sl.Until, "silence-expired", "Silence expired", "")
		}
	}

	if !in.ResolvedAt.IsZero() {
		add(in.ResolvedAt, "resolved", "Resolved", "the check passes again")
		v.TimeToResolve = span(in.ResolvedAt.Sub(in.OpenedAt))
	}
	if !firstAck.IsZero() {
		v.TimeToAck = span(firstAck.Sub(in.OpenedAt))
	}
	order := map[string]int{"opened": 0, "silenced": 1, "reminder": 2, "acked": 3, "silence-ended": 4, "silence-expired": 5, "resolved": 6}
	slices.SortStableFunc(v.Entries, func(a, b timelineEntry) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return order[a.Kind] - order[b.Kind]
	})
	return v, nil
}

// span writes a duration as the relative labels do, without "ago": "12m
// 3s", "2h 5m", "just now" under a second.
func span(d time.Duration) string {
	t := time.Unix(0, 0)
	return strings.TrimSuffix(relative(t, t.Add(d)), " ago")
}
