package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyCrossKeysPostgresToMariaDB: PostgreSQL → MariaDB tables whose
// text keys MariaDB's utf8mb4 collation orders (and compares) differently
// from PostgreSQL's: one hashed in the servers (by hash buckets of the
// key), one with an array column, hashed in sluice and read whole; and a
// keyless table compared as a multiset across engines. All verify equal;
// then changed, missing and extra keys and a doubled keyless row are found.
func TestVerifyCrossKeysPostgresToMariaDB(t *testing.T) {
	t.Parallel()
	e := newVerifyEnv(t, "postgres", "mysql", "")
	keys := `('a'), ('B'), ('b2'), ('Ä'), ('é'), ('Z'), ('_x'), ('10'), ('9'), ('ab'), ('Ab2')`
	e.from.exec(t, `CREATE TABLE words (w text PRIMARY KEY, n int);
		INSERT INTO words SELECT k, row_number() OVER () FROM (VALUES `+keys+`) v(k);
		INSERT INTO words SELECT (CASE WHEN g % 2 = 0 THEN 'k' ELSE 'K' END) || (CASE WHEN g % 3 = 0 THEN 'ä' ELSE 'a' END) || g, g FROM generate_series(1, 2500) g;
		CREATE TABLE tags (w varchar(20) PRIMARY KEY, a int[]);
		INSERT INTO tags SELECT k, ARRAY[1, 2] FROM (VALUES `+keys+`) v(k);
		CREATE TABLE pairs (v text, n numeric(10,2));
		ALTER TABLE pairs REPLICA IDENTITY FULL;
		INSERT INTO pairs SELECT 'pair ' || (g % 4), (g % 4) * 1.5 FROM generate_series(1, 12) g;`)
	p := e.start()
	defer p.stop(t)
	waitVerified(t, e, e.cfg, 2*time.Minute)
	code, rep, out := e.runVerify(e.cfg)
	hashed := map[string]string{"public.words": "servers", "public.tags": "sluice", "public.pairs": "servers"}
	for name, want := range hashed {
		if tb := rep.table(name); code != 0 || tb.Status != "equal" || tb.Hashed != want {
			t.Fatalf("%s: exit %d, %s, hashed in the %q; want 0, equal, hashed in the %q\n%s", name, code, tb.Status, tb.Hashed, want, out)
		}
	}
	if tb := rep.table("public.words"); tb.Chunks < 2 || tb.RowsFetched != 0 {
		t.Errorf("words: %d chunks (hash buckets), %d rows read into sluice; want several buckets and no row read\n%s", tb.Chunks, tb.RowsFetched, out)
	}

	e.to.exec(t, `DELETE FROM public.words WHERE w = 'B';
		UPDATE public.words SET n = 50 WHERE w = 'é';
		INSERT INTO public.words VALUES ('zz', 1);
		UPDATE public.tags SET a = '[1,3]' WHERE w = 'b2';
		DELETE FROM public.tags WHERE w = 'Ä';
		INSERT INTO public.pairs SELECT * FROM public.pairs WHERE v = 'pair 2' LIMIT 1`)
	code, rep, out = e.runVerify(e.cfg)
	if code != 1 {
		t.Fatalf("after hand-made differences: exit %d, want 1\n%s", code, out)
	}
	if got, want := diffKeys(rep.table("public.words")), []string{"changed é", "extra zz", "missing B"}; !slices.Equal(got, want) {
		t.Errorf("words: differences %q, want %q\n%s", got, want, out)
	}
	if got, want := diffKeys(rep.table("public.tags")), []string{"changed b2", "missing Ä"}; !slices.Equal(got, want) {
		t.Errorf("tags: differences %q, want %q\n%s", got, want, out)
	}
	pairs := rep.table("public.pairs")
	if len(pairs.Diffs) != 1 || pairs.Diffs[0].Kind != "extra" || pairs.Diffs[0].Source != 3 || pairs.Diffs[0].Target != 4 || !strings.Contains(pairs.Diffs[0].Row, "pair 2") {
		t.Errorf("pairs: differences %+v, want the row 'pair 2', held 3 times on the source and 4 on the target\n%s", pairs.Diffs, out)
	}
}
