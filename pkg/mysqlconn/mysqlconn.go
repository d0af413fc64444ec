// Package mysqlconn turns Sluice's MySQL/MariaDB URLs
// (mysql://user:password@host:port/database?param=value) into connections
// with the session settings every Sluice component relies on: UTC time zone,
// utf8mb4, client-side parameter interpolation, no time parsing.
package mysqlconn

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Parsed is a DSN taken apart. Password is never printed by Sluice.
type Parsed struct {
	User, Password string
	Host           string
	Port           uint16
	Database       string // "" when the URL names none
	Params         url.Values
}

// Parse reads a mysql:// URL. Errors never quote the password.
func Parse(dsn string) (*Parsed, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("not a URL: want mysql://user:password@host:port/database")
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("scheme %q: want mysql://user:password@host:port/database", u.Scheme)
	}
	p := &Parsed{Host: u.Hostname(), Port: 3306, Database: strings.TrimPrefix(u.Path, "/"), Params: u.Query()}
	if u.User != nil {
		p.User = u.User.Username()
		p.Password, _ = u.User.Password()
	}
	if p.User == "" {
		return nil, errors.New("no user: want mysql://user:password@host:port/database")
	}
	if p.Host == "" {
		p.Host = "127.0.0.1"
	}
	if s := u.Port(); s != "" {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("port %q is not a port number", s)
		}
		p.Port = uint16(n)
	}
	if strings.Contains(p.Database, "/") {
		return nil, fmt.Errorf("database %q: want one database name after the host", p.Database)
	}
	return p, nil
}

// Addr is host:port.
func (p *Parsed) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))) }

// Config is the go-sql-driver configuration for the DSN. Query parameters of
// the URL are passed on as session variables, except the driver options
// tls, timeout, readTimeout and writeTimeout.
func (p *Parsed) Config() (*mysql.Config, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = p.User, p.Password, "tcp", p.Addr(), p.Database
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 10*time.Second, 0, 0
	c.InterpolateParams = true
	c.ParseTime = false
	c.Loc = time.UTC
	c.MultiStatements = false
	c.MaxAllowedPacket = 0 // ask the server
	c.Params = map[string]string{"time_zone": "'+00:00'"}
	for k, vs := range p.Params {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "tls":
			c.TLSConfig = v
		case "timeout":
			c.Timeout, err = time.ParseDuration(v)
		case "readTimeout":
			c.ReadTimeout, err = time.ParseDuration(v)
		case "writeTimeout":
			c.WriteTimeout, err = time.ParseDuration(v)
		default:
			c.Params[k] = v
		}
		if err != nil {
			return nil, fmt.Errorf("URL parameter %s=%q: %v", k, v, err)
		}
	}
	if c.TLSConfig != "" {
		if err := c.Apply(); err != nil {
			return nil, fmt.Errorf("URL parameter tls=%q: %v", c.TLSConfig, err)
		}
	}
	return c, nil
}

// Open parses dsn and returns a connection pool (no connection is made yet).
func Open(dsn string) (*sql.DB, *Parsed, error) {
	p, err := Parse(dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := p.Config()
	if err != nil {
		return nil, nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	return sql.OpenDB(conn), p, nil
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// Flavor is "mariadb" or "mysql" judging by the server version string.
func Flavor(version string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return "mariadb"
	}
	return "mysql"
}
