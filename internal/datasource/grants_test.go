package datasource

import (
	"reflect"
	"testing"
)

// TestParseGrant reads SHOW GRANTS lines as MariaDB prints them (GRANT
// priv_type [(column_list)] [, ...] ON priv_level TO user [WITH GRANT
// OPTION], and GRANT role TO grantee), quoted names holding the words and
// punctuation the grammar uses.
func TestParseGrant(t *testing.T) {
	tests := []struct {
		line string
		want grant
	}{
		{line: "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'",
			want: grant{privileges: []string{"USAGE"}, on: "*.*", to: "`u`@`%`"}},
		{line: "GRANT SELECT, UPDATE (`a`, `b c`), SHOW VIEW ON `my db`.`t, ON x` TO `u`@`%` WITH GRANT OPTION",
			want: grant{privileges: []string{"SELECT", "UPDATE", "SHOW VIEW"}, on: "`my db`.`t, ON x`", to: "`u`@`%`", grantOption: true}},
		{line: "GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`localhost`",
			want: grant{privileges: []string{"EXECUTE"}, on: "PROCEDURE `db`.`p`", to: "`u`@`localhost`"}},
		{line: "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
			want: grant{privileges: []string{"PROXY"}, on: "''@'%'", to: "'root'@'localhost'", grantOption: true}},
		{line: "GRANT `role TO x` TO `u`@`%` WITH ADMIN OPTION",
			want: grant{role: "`role TO x`", to: "`u`@`%`"}},
	}
	for _, tt := range tests {
		got, ok := parseGrant(tt.line)
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseGrant(%q) = %+v, %v; want %+v", tt.line, got, ok, tt.want)
		}
	}
	if _, ok := parseGrant("SET DEFAULT ROLE `r` FOR `u`@`%`"); ok {
		t.Errorf("a SET DEFAULT ROLE line read as a grant")
	}
}
