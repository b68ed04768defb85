package s3freshness

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// UndatedWindow is the newest partition of a prefix without date
// sub-prefixes: the objects that landed within this span before its newest
// object (inclusive).
const UndatedWindow = 24 * time.Hour

// object is one listed S3 object.
type object struct {
	key      string
	size     int64
	modified time.Time
}

// Landing is what a prefix holds, as the rules read it.
//
// Data objects are the objects under the prefix except folder markers (keys
// ending in "/") and hidden files: a key any of whose path segments after
// the prefix starts with "_" or "." (Hadoop's rule: _SUCCESS,
// _temporary/..., .spark-staging/...). Hidden files are skipped by every
// rule.
//
// The newest partition is, when the prefix holds date sub-prefixes right
// below it — "[name=]YYYY-MM-DD/" (dt=2026-12-03/, date=..., or the bare
// date) or "[name=]YYYY/[name=]M/[name=]D/" (2026/12/03/, Kinesis
// Firehose's layout, or year=2026/month=12/day=3/) — the one with the
// latest date that holds at least one data object, with everything below
// it (hour folders included). Sub-prefixes that are not dates are then
// ignored. When the prefix has no date sub-prefix, the newest partition is
// its data objects that landed within UndatedWindow before its newest one.
type Landing struct {
	// Partition is the newest partition's sub-prefix below the prefix
	// ("dt=2026-12-03/"), or "" for a prefix without date sub-prefixes.
	Partition string
	// Objects are the data objects of the newest partition.
	Objects []object
	// Newest is the newest of Objects; nil when the prefix holds no data
	// object.
	Newest *object
	// Hidden counts the hidden files and folder markers seen and skipped.
	Hidden int
}

// errTooManyPages is wrapped by the error of a listing that reached its
// page bound.
var errTooManyPages = errors.New("too many pages")

// lister lists one prefix with a bound on the pages it reads.
type lister struct {
	client   s3.ListObjectsV2APIClient
	bucket   string
	maxPages int
	pageSize int32
	pages    int // read so far
}

// list reads every page under prefix (with delimiter when not empty) and
// hands each to fn. It fails with errTooManyPages once maxPages pages were
// read and more remain.
func (l *lister) list(ctx context.Context, prefix, delimiter string, fn func(*s3.ListObjectsV2Output)) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	if l.pageSize > 0 {
		in.MaxKeys = aws.Int32(l.pageSize)
	}
	p := s3.NewListObjectsV2Paginator(l.client, in)
	for p.HasMorePages() {
		if l.pages >= l.maxPages {
			return fmt.Errorf("%w: read max_pages (%d) pages and more remain, so the newest object may be among the keys not read: "+
				"point the prefix at a dated layout (dt=YYYY-MM-DD/ or YYYY/MM/DD/) or raise max_pages", errTooManyPages, l.maxPages)
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return apiError(err)
		}
		l.pages++
		fn(out)
	}
	return nil
}

// apiError puts the AWS error code (NoSuchBucket, AccessDenied) in front.
func apiError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("list objects: %s: %w", apiErr.ErrorCode(), err)
	}
	return fmt.Errorf("list objects: %w", err)
}

// children returns the sub-prefixes right below base, relative to it
// ("dt=2026-12-03/"), and the objects right below it.
func (l *lister) children(ctx context.Context, base string) (dirs []string, direct []types.Object, err error) {
	err = l.list(ctx, base, "/", func(page *s3.ListObjectsV2Output) {
		for _, cp := range page.CommonPrefixes {
			if p := aws.ToString(cp.Prefix); strings.HasPrefix(p, base) {
				dirs = append(dirs, p[len(base):])
			}
		}
		direct = append(direct, page.Contents...)
	})
	return dirs, direct, err
}

// objects returns every object under prefix, split into data objects and a
// count of hidden ones (hidden relative to base, the configured prefix).
func (l *lister) objects(ctx context.Context, base, prefix string) (data []object, hidden int, err error) {
	err = l.list(ctx, prefix, "", func(page *s3.ListObjectsV2Output) {
		data, hidden = sortOut(base, page.Contents, data, hidden)
	})
	return data, hidden, err
}

// sortOut appends the data objects of listed to data and counts the hidden
// ones (relative to base) in hidden.
func sortOut(base string, listed []types.Object, data []object, hidden int) ([]object, int) {
	for _, o := range listed {
		key := aws.ToString(o.Key)
		if isHidden(key[min(len(base), len(key)):]) {
			hidden++
			continue
		}
		data = append(data, object{key: key, size: aws.ToInt64(o.Size), modified: aws.ToTime(o.LastModified)})
	}
	return data, hidden
}

// isHidden reports whether a key (relative to the prefix) is a folder
// marker or has a path segment starting with "_" or ".".
func isHidden(rel string) bool {
	if strings.HasSuffix(rel, "/") {
		return true
	}
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// Date sub-prefixes: an optional Hive-style "name=" then the date part.
var (
	isoDir    = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*=)?(\d{4}-\d{2}-\d{2})/$`)
	yearDir   = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*=)?(\d{4})/$`)
	numberDir = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*=)?(\d{1,2})/$`)
)

// dated is a date sub-prefix.
type dated struct {
	rel  string // relative to the prefix, ending in "/"
	date time.Time
}

// newestFirst sorts dated sub-prefixes by date, then name, newest first.
func newestFirst(ds []dated) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].date.Equal(ds[j].date) {
			return ds[i].date.After(ds[j].date)
		}
		return ds[i].rel > ds[j].rel
	})
}

// land reads a prefix: its newest partition and that partition's data
// objects.
func (l *lister) land(ctx context.Context, prefix string) (Landing, error) {
	tops, direct, err := l.children(ctx, prefix)
	if err != nil {
		return Landing{}, err
	}
	var days []dated
	var years []string
	for _, rel := range tops {
		if m := isoDir.FindStringSubmatch(rel); m != nil {
			if d, err := time.Parse(time.DateOnly, m[1]); err == nil {
				days = append(days, dated{rel: rel, date: d})
			}
		} else if yearDir.MatchString(rel) {
			years = append(years, rel)
		}
	}
	if len(days) == 0 && len(years) > 0 {
		if days, err = l.yearMonthDay(ctx, prefix, years); err != nil {
			return Landing{}, err
		}
	}
	if len(days) == 0 {
		return l.undated(ctx, prefix, tops, direct)
	}
	newestFirst(days)
	var hiddenAll int
	for _, d := range days {
		data, hidden, err := l.objects(ctx, prefix, prefix+d.rel)
		if err != nil {
			return Landing{}, err
		}
		hiddenAll += hidden
		if len(data) > 0 {
			return Landing{Partition: d.rel, Objects: data, Newest: newest(data), Hidden: hiddenAll}, nil
		}
	}
	return Landing{Hidden: hiddenAll}, nil
}

// yearMonthDay finds the day sub-prefixes of a YYYY/MM/DD layout. It
// descends the newest years and months first and stops at the first month
// that holds days, so a run reads a handful of small listings, not the
// history.
func (l *lister) yearMonthDay(ctx context.Context, prefix string, years []string) ([]dated, error) {
	sort.Sort(sort.Reverse(sort.StringSlice(years)))
	for _, y := range years {
		year, _ := strconv.Atoi(yearDir.FindStringSubmatch(y)[1])
		months, _, err := l.children(ctx, prefix+y)
		if err != nil {
			return nil, err
		}
		type month struct {
			rel string
			n   int
		}
		var ms []month
		for _, rel := range months {
			if m := numberDir.FindStringSubmatch(rel); m != nil {
				if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= 12 {
					ms = append(ms, month{rel, n})
				}
			}
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].n > ms[j].n })
		for _, m := range ms {
			dayDirs, _, err := l.children(ctx, prefix+y+m.rel)
			if err != nil {
				return nil, err
			}
			var days []dated
			for _, rel := range dayDirs {
				dm := numberDir.FindStringSubmatch(rel)
				if dm == nil {
					continue
				}
				n, _ := strconv.Atoi(dm[1])
				d := time.Date(year, time.Month(m.n), n, 0, 0, 0, 0, time.UTC)
				if d.Day() == n { // not 2026/02/31
					days = append(days, dated{rel: y + m.rel + rel, date: d})
				}
			}
			if len(days) > 0 {
				return days, nil
			}
		}
	}
	return nil, nil
}

// undated reads a prefix without date sub-prefixes: every object under it.
// When it has no sub-prefix at all, the objects right below it (direct,
// from the listing of its sub-prefixes) are all there is.
func (l *lister) undated(ctx context.Context, prefix string, dirs []string, direct []types.Object) (Landing, error) {
	var data []object
	var hidden int
	if len(dirs) == 0 {
		data, hidden = sortOut(prefix, direct, nil, 0)
	} else {
		var err error
		if data, hidden, err = l.objects(ctx, prefix, prefix); err != nil {
			return Landing{}, err
		}
	}
	if len(data) == 0 {
		return Landing{Hidden: hidden}, nil
	}
	top := newest(data)
	from := top.modified.Add(-UndatedWindow)
	var recent []object
	for _, o := range data {
		if !o.modified.Before(from) {
			recent = append(recent, o)
		}
	}
	return Landing{Objects: recent, Newest: newest(recent), Hidden: hidden}, nil
}

// newest returns the most recently modified object (the greatest key among
// equals); objs is not empty.
func newest(objs []object) *object {
	best := &objs[0]
	for i := range objs[1:] {
		o := &objs[i+1]
		if o.modified.After(best.modified) || (o.modified.Equal(best.modified) && o.key > best.key) {
			best = o
		}
	}
	return best
}
