package scriptlog

import (
	"fmt"
	"strings"
	"testing"
)

// TestCaptureHeadAndTail writes outputs of several lengths in chunks of
// several sizes: the result is always the first half of the cap, a marker,
// and the last half, or everything when it fits.
func TestCaptureHeadAndTail(t *testing.T) {
	var input strings.Builder
	for i := 0; input.Len() < 300; i++ {
		fmt.Fprintf(&input, "%d,", i)
	}
	all := input.String()
	tests := []struct {
		name         string
		limit, chunk int
		length       int
	}{
		{"empty", 10, 1, 0},
		{"fits", 10, 3, 10},
		{"one over", 10, 3, 11},
		{"odd cap", 7, 2, 100},
		{"chunk larger than tail", 10, 50, 300},
		{"byte by byte", 10, 1, 300},
		{"cap of one", 1, 4, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := all[:tt.length]
			c := newCapture(tt.limit)
			for i := 0; i < len(in); i += tt.chunk {
				c.Write([]byte(in[i:min(i+tt.chunk, len(in))]))
			}
			got, total := c.result(nil)
			want := in
			if len(in) > tt.limit {
				head, tail := tt.limit/2, tt.limit-tt.limit/2
				want = in[:head] + fmt.Sprintf("\n[... vigil: %d bytes of output omitted ...]\n", len(in)-tt.limit) + in[len(in)-tail:]
			}
			if string(got) != want || total != int64(len(in)) {
				t.Errorf("result = %q (%d), want %q (%d)", got, total, want, len(in))
			}
		})
	}
}
