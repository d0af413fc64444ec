package main

import (
	"fmt"
	"testing"
	"time"
)

// TestMariaDBRollback: transactions that touch a MyISAM or temporary table
// are logged with the rows they roll back, then ROLLBACK or ROLLBACK TO
// SAVEPOINT. Small ones arrive whole; large ones are applied in parts while
// they are read, so a rollback has to undo parts already in the target.
// The target ends equal to the source: no rolled-back row, every MyISAM row.
func TestMariaDBRollback(t *testing.T) {
	for _, dst := range []string{"mysql", "postgres"} {
		t.Run("mysql_to_"+dst, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, "mysql", dst, "")
			x.from.exec(t, "CREATE TABLE app.i (id int PRIMARY KEY, v int) ENGINE=InnoDB; CREATE TABLE app.m (id int PRIMARY KEY) ENGINE=MyISAM")
			tables := []string{"app.i", "app.m"}
			p := x.start()
			x.waitSame(60*time.Second, p, tables...)
			// More rows than a part (10000): these go to the target in parts.
			big := func(from, to int) string {
				return fmt.Sprintf("INSERT INTO app.i SELECT seq, seq %% 7 FROM seq_%d_to_%d", from, to)
			}
			for _, q := range []string{
				"BEGIN; INSERT INTO app.i VALUES (1, 1); SAVEPOINT s; INSERT INTO app.i VALUES (2, 2); INSERT INTO app.m VALUES (2); ROLLBACK TO s; INSERT INTO app.i VALUES (3, 3); COMMIT",
				"BEGIN; INSERT INTO app.i VALUES (4, 4); CREATE TEMPORARY TABLE app.tmp (id int) ENGINE=MyISAM; INSERT INTO app.tmp VALUES (1); ROLLBACK",
				"BEGIN; " + big(100001, 130000) + "; CREATE TEMPORARY TABLE app.tmp2 (id int) ENGINE=MyISAM; " + big(130001, 160000) + "; ROLLBACK",
				"BEGIN; " + big(200001, 230000) + "; SAVEPOINT a; " + big(230001, 260000) + "; UPDATE app.i SET v = -1 WHERE id <= 3; " +
					"INSERT INTO app.m VALUES (3); ROLLBACK TO a; " + big(260001, 260010) + "; DELETE FROM app.i WHERE id = 1; COMMIT",
				"BEGIN; SAVEPOINT s; " + big(300001, 330000) + "; INSERT INTO app.m VALUES (4); ROLLBACK TO s; INSERT INTO app.i VALUES (5, 5); COMMIT",
			} {
				x.from.exec(t, "USE app; "+q)
			}
			x.waitSame(120*time.Second, p, tables...)
			p.stop(t)
		})
	}
}
