-- Runs once, when the mariadb container initialises its data directory
-- (docker-entrypoint-initdb.d), as root. Creates the database shop, fills it
-- and creates the user sluice-mariadb replicates as. Change the data with
--   docker compose exec mariadb mariadb -uroot -pmariadb-secret shop
-- and watch the changes arrive in the target:
--   docker compose exec target psql -U postgres dwh -c 'TABLE shop.orders'
--
-- The server settings a binlog source needs (log_bin, binlog_format=ROW,
-- binlog_row_image=FULL, binlog_row_metadata=FULL, a server_id no replica
-- uses) are on the mariadb service's command line in docker-compose.yml.

CREATE DATABASE IF NOT EXISTS shop DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE shop;

-- The user Sluice reads the binlog and the snapshot as. MariaDB 10.5+ calls
-- REPLICATION CLIENT "BINLOG MONITOR" (the old name is still accepted).
--   REPLICATION SLAVE  read the binlog (as a replica does)
--   BINLOG MONITOR     SHOW MASTER STATUS / SHOW BINARY LOGS: where the log is
--   RELOAD             FLUSH TABLES WITH READ LOCK, held for a moment while the
--                      parallel snapshot readers start at one binlog position
--   SELECT on shop     the snapshot
-- The password is also set in docker-compose.yml (sluice-mariadb's
-- MARIADB_SLUICE_PASSWORD): change both together.
CREATE USER IF NOT EXISTS 'sluice'@'%' IDENTIFIED BY 'sluice-secret';
GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO 'sluice'@'%';
GRANT SELECT ON shop.* TO 'sluice'@'%';

CREATE TABLE customers (
	id         int AUTO_INCREMENT PRIMARY KEY,
	name       varchar(100) NOT NULL,
	email      varchar(200),
	country    char(2),
	birth_date date,
	-- MariaDB's JSON is LONGTEXT with a json_valid() check: the binlog says
	-- longtext, so the column arrives as text, not as jsonb.
	profile    json,
	updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)
);
CREATE TABLE articles (
	id    int AUTO_INCREMENT PRIMARY KEY,
	name  varchar(100) NOT NULL,
	price decimal(10,2) NOT NULL,
	stock int unsigned NOT NULL DEFAULT 0
);
-- Foreign keys without ON DELETE/UPDATE CASCADE: InnoDB applies cascades
-- itself and does not write them to the binlog, so no binlog reader sees them.
CREATE TABLE orders (
	id          int AUTO_INCREMENT PRIMARY KEY,
	customer_id int NOT NULL,
	ordered_at  datetime(6) NOT NULL,
	status      enum('new', 'paid', 'shipped') NOT NULL DEFAULT 'new',
	FOREIGN KEY (customer_id) REFERENCES customers (id)
);
CREATE TABLE order_lines (
	order_id   int NOT NULL,
	line_no    smallint NOT NULL,
	article_id int NOT NULL,
	qty        int NOT NULL,
	PRIMARY KEY (order_id, line_no),
	FOREIGN KEY (order_id) REFERENCES orders (id),
	FOREIGN KEY (article_id) REFERENCES articles (id)
);
-- No primary or unique key: with binlog_row_image=FULL every change carries
-- the whole row, and the target matches rows on all columns.
CREATE TABLE page_views (
	viewed_at   datetime(6) NOT NULL,
	customer_id int,
	path        varchar(200) NOT NULL
);

-- seq_1_to_N is MariaDB's sequence engine: the numbers 1..N.
INSERT INTO articles (name, price, stock)
SELECT concat(elt(1 + seq % 5, 'Oak', 'Steel', 'Linen', 'Walnut', 'Glass'), ' ',
              elt(1 + seq DIV 5 % 5, 'chair', 'desk', 'lamp', 'shelf', 'rug'), ' ', seq),
       4.95 + seq * 7919 % 49500 / 100, seq * 37 % 120
FROM seq_1_to_50;

INSERT INTO customers (name, email, country, birth_date, profile)
SELECT concat('Customer ', seq), concat('customer', seq, '@example.com'),
       elt(1 + seq % 5, 'NL', 'DE', 'BE', 'FR', 'GB'),
       date '1950-01-01' + INTERVAL seq * 7907 % 20000 DAY,
       json_object('newsletter', seq % 3 = 0, 'tags', json_array(elt(1 + seq % 3, 'new', 'regular', 'vip')))
FROM seq_1_to_200;

INSERT INTO orders (customer_id, ordered_at, status)
SELECT 1 + seq * 7 % 200, timestamp '2024-06-01 12:00:00' - INTERVAL seq * 3 HOUR,
       elt(1 + seq % 4, 'new', 'paid', 'shipped', 'shipped')
FROM seq_1_to_500;

INSERT INTO order_lines (order_id, line_no, article_id, qty)
SELECT o.id, l.seq, 1 + (o.id * 13 + l.seq * 7) % 50, 1 + (o.id + l.seq) % 4
FROM orders o JOIN seq_1_to_3 l ON l.seq <= 1 + o.id % 3;

INSERT INTO page_views (viewed_at, customer_id, path)
SELECT timestamp '2024-06-01 12:00:00' - INTERVAL seq MINUTE, nullif(seq % 50, 0),
       concat('/articles/', 1 + seq % 50)
FROM seq_1_to_300;
