// Package testport picks free TCP ports for the throwaway servers the test
// harnesses start (PostgreSQL, MariaDB, kfake, nats-server).
package testport

import (
	"fmt"
	"net"
)

// Free returns a TCP port on 127.0.0.1 that nothing listened on a moment
// ago (another process may still take it before the server does).
func Free() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
