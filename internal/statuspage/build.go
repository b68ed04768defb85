package statuspage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

const day = 24 * time.Hour

// build makes the page as of now.
func (b *Builder) build(ctx context.Context, now time.Time) (*Page, error) {
	now = now.UTC()
	today := now.Truncate(day)
	first := today.Add(-(Days - 1) * day)
	yesterday := today.Add(-day)
	// The states first: a run recorded while the counts are read then
	// shows in the counts, not in a state the counts do not know of.
	history, err := b.st.RecentHistory(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	if err := b.fillDays(ctx, first, yesterday); err != nil {
		return nil, err
	}
	recent, err := b.recentHours(ctx, yesterday, now)
	if err != nil {
		return nil, err
	}
	dayStart := now.Truncate(time.Hour).Add(-23 * time.Hour)
	type tally struct {
		days [Days]store.Counts
		last store.Counts // the last 24 hours
	}
	tallies := make(map[string]*tally, len(b.checks))
	for _, id := range b.checks {
		t := &tally{}
		for i := range Days - 2 {
			t.days[i] = b.days[first.Add(time.Duration(i)*day).Unix()][id]
		}
		tallies[id] = t
	}
	for _, h := range recent {
		t := tallies[h.CheckID]
		if t == nil {
			continue
		}
		t.days[Days-2+int(h.Start.Sub(yesterday)/day)].Add(h.Counts)
		if !h.Start.Before(dayStart) {
			t.last.Add(h.Counts)
		}
	}

	p := &Page{Title: b.cfg.Title, State: NoData, UpdatedAt: now, Groups: []Group{}, Incidents: []Incident{}}
	checkStates := map[string]State{}
	for _, g := range b.cfg.Groups {
		grp := Group{Name: g.Name, Slug: g.Slug, State: NoData, Checks: []Check{}}
		var sum tally
		for _, id := range g.Checks {
			t := tallies[id]
			st := StateOf(history[id].Last.Status)
			checkStates[id] = st
			grp.Checks = append(grp.Checks, Check{Name: b.cfg.Name(id), State: st, Uptime: uptime(t.days, t.last), Days: bar(first, t.days)})
			grp.State = worse(grp.State, st)
			for i := range sum.days {
				sum.days[i].Add(t.days[i])
			}
			sum.last.Add(t.last)
		}
		grp.Uptime, grp.Days = uptime(sum.days, sum.last), bar(first, sum.days)
		p.State = worse(p.State, grp.State)
		p.Groups = append(p.Groups, grp)
	}
	if p.Incidents, err = b.incidents(ctx, checkStates); err != nil {
		return nil, err
	}
	return p, nil
}

// recentHours returns the runs of yesterday and today by check and hour:
// settled hours (before the last one) from b.hours, counted once, the
// others from the store.
func (b *Builder) recentHours(ctx context.Context, yesterday, now time.Time) ([]store.BucketCounts, error) {
	for h := range b.hours {
		if h < yesterday.Unix() {
			delete(b.hours, h)
		}
	}
	from := yesterday
	if b.settled.After(from) && !b.settled.After(now) {
		from = b.settled
	} else {
		clear(b.hours) // a new start, or the clock went back
	}
	fresh, err := b.st.RunCounts(ctx, store.CountQuery{Checks: b.checks, From: from, To: now.Add(time.Nanosecond), Bucket: time.Hour, PerCheck: true})
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	settle := now.Truncate(time.Hour).Add(-time.Hour)
	var out []store.BucketCounts
	for _, c := range fresh {
		if c.Start.Before(settle) {
			h := c.Start.Unix()
			if b.hours[h] == nil {
				b.hours[h] = map[string]store.Counts{}
			}
			b.hours[h][c.CheckID] = c.Counts
			continue
		}
		out = append(out, c)
	}
	if settle.After(from) {
		b.settled = settle
	}
	for h, byCheck := range b.hours {
		for id, c := range byCheck {
			out = append(out, store.BucketCounts{CheckID: id, Start: time.Unix(h, 0).UTC(), Counts: c})
		}
	}
	return out, nil
}

// fillDays makes days hold every complete day in [first, until), and
// forgets those before first.
func (b *Builder) fillDays(ctx context.Context, first, until time.Time) error {
	for d := range b.days {
		if d < first.Unix() {
			delete(b.days, d)
		}
	}
	from := first
	if b.complete.After(first) {
		from = b.complete
	}
	if b.complete.After(until) { // the clock went back: start over
		clear(b.days)
		from = first
	}
	if !from.Before(until) {
		return nil
	}
	got, err := b.st.RunCounts(ctx, store.CountQuery{Checks: b.checks, From: from, To: until, Bucket: day, PerCheck: true})
	if err != nil {
		return fmt.Errorf("statuspage: %w", err)
	}
	for _, c := range got {
		d := c.Start.Unix()
		if b.days[d] == nil {
			b.days[d] = map[string]store.Counts{}
		}
		b.days[d][c.CheckID] = c.Counts
	}
	b.complete = until
	return nil
}

func uptime(days [Days]store.Counts, last store.Counts) Uptime {
	var week, quarter store.Counts
	for i, c := range days {
		quarter.Add(c)
		if i >= Days-7 {
			week.Add(c)
		}
	}
	return Uptime{Day: uptimeOf(last), Week: uptimeOf(week), Quarter: uptimeOf(quarter)}
}

func bar(first time.Time, days [Days]store.Counts) []Day {
	out := make([]Day, Days)
	for i, c := range days {
		out[i] = Day{Date: first.Add(time.Duration(i) * day).Format(time.DateOnly), State: stateOfCounts(c), Uptime: uptimeOf(c)}
	}
	return out
}

// incidents lists the open incidents of the page's checks, newest first,
// under public titles.
func (b *Builder) incidents(ctx context.Context, states map[string]State) ([]Incident, error) {
	out := []Incident{}
	var before int64
	for {
		page, err := b.st.Incidents(ctx, store.IncidentQuery{OpenOnly: true, Before: before, Limit: store.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("statuspage: %w", err)
		}
		for _, in := range page {
			st, ok := states[in.CheckID]
			if !ok {
				continue // not on the page
			}
			out = append(out, Incident{Title: title(b.cfg.Name(in.CheckID), st), State: st, StartedAt: in.Since.UTC()})
		}
		if len(page) < store.MaxLimit {
			break
		}
		before = page[len(page)-1].ID
	}
	slices.SortStableFunc(out, func(a, b Incident) int { return b.StartedAt.Compare(a.StartedAt) })
	return out, nil
}

// title is an open incident's public title.
func title(name string, st State) string {
	switch st {
	case Degraded:
		return name + " is degraded"
	case Operational:
		return name + " is recovering"
	}
	return name + " is down"
}
