package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// errCodeSubjectOverlap is JetStream's "subjects overlap with an existing
// stream" (JSStreamSubjectOverlapErr).
const errCodeSubjectOverlap = 10065

// connect opens a connection and a JetStream context. With
// onDisconnect, the connection does not reconnect: a sink treats a lost
// connection as the end of its attempt (publishes sent before it may be
// lost, later ones must not overtake them), and the pipeline reopens it.
func connect(ctx context.Context, s *Settings, name string, onDisconnect func()) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("sluice " + name), nats.Timeout(s.Timeout)}
	if onDisconnect != nil {
		opts = append(opts, nats.NoReconnect(), nats.ReconnectBufSize(-1),
			nats.DisconnectErrHandler(func(*nats.Conn, error) { onDisconnect() }),
			nats.ClosedHandler(func(*nats.Conn) { onDisconnect() }))
	}
	switch {
	case s.User != "":
		opts = append(opts, nats.UserInfo(s.User, s.Password))
	case s.Token != "":
		opts = append(opts, nats.Token(s.Token))
	case s.CredsFile != "":
		opts = append(opts, nats.UserCredentials(s.CredsFile))
	case s.NkeyFile != "":
		o, err := nats.NkeyOptionFromSeed(s.NkeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("sink.nats.nkey_file: read the nkey seed from %s: %w", s.NkeyFile, err)
		}
		opts = append(opts, o)
	}
	if s.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(s.TLS.CAFile))
	}
	if s.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(s.TLS.CertFile, s.TLS.KeyFile))
	}
	nc, err := nats.Connect(strings.Join(s.URLs, ","), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w%s", redactURLs(s.URLs), err, authHint(err))
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(s.Timeout), jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("start JetStream: %w", err)
	}
	// Right after a server start JetStream may not answer yet: ask again
	// for a few seconds before saying it is off.
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		_, err = js.AccountInfo(ctx)
		if err == nil || !errors.Is(err, jetstream.ErrJetStreamNotEnabled) || wait > 3*time.Second {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		nc.Close()
		return nil, nil, jsError(err, s)
	}
	return nc, js, nil
}

// jsError explains the errors a user can fix.
func jsError(err error, s *Settings) error {
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Errorf("NATS at %s has no JetStream: start nats-server with -js (or a jetstream {} block in its config): %w",
			redactURLs(s.URLs), err)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("NATS at %s: JetStream is not enabled for this account (give the account jetstream limits in the server config): %w",
			redactURLs(s.URLs), err)
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == errCodeSubjectOverlap {
		return fmt.Errorf("create stream %s with subjects %v: they overlap with another stream's subjects (use that stream as sink.nats.stream, or set sink.nats.subject_prefix/subjects that no other stream holds): %w",
			s.streamName(), s.subjects(), err)
	}
	return err
}

func authHint(err error) string {
	if errors.Is(err, nats.ErrAuthorization) || strings.Contains(err.Error(), "Authorization Violation") {
		return " (check sink.nats.user/password, token, creds_file or nkey_file)"
	}
	if errors.Is(err, nats.ErrNoServers) {
		return " (is nats-server running there? check sink.nats.urls)"
	}
	return ""
}

// streamConfig is the stream Sluice creates when it is missing.
func streamConfig(s *Settings) jetstream.StreamConfig {
	ret, _ := retention(s.Retention) // validated
	storage := jetstream.FileStorage
	if s.Storage == "memory" {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{Name: s.streamName(), Subjects: s.subjects(), Retention: ret, Replicas: s.Replicas,
		MaxAge: s.MaxAge, Storage: storage, Duplicates: s.DuplicateWindow,
		Description: "change events published by Sluice (Debezium JSON envelope)"}
}

// openStream finds the stream, creating it when missing and allowed, and
// checks that it holds the progress subject.
func openStream(ctx context.Context, js jetstream.JetStream, s *Settings, pipeline string, log zerolog.Logger) (jetstream.Stream, error) {
	name := s.streamName()
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !s.CreateStream {
			return nil, fmt.Errorf("stream %s does not exist (create it with subjects %v, or set sink.nats.create_stream: true)", name, s.subjects())
		}
		if st, err = js.CreateStream(ctx, streamConfig(s)); err == nil {
			log.Info().Str("stream", name).Strs("subjects", s.subjects()).Str("retention", s.Retention).Int("replicas", s.Replicas).
				Msg("created the JetStream stream")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", name, jsError(err, s))
	}
	subjects := st.CachedInfo().Config.Subjects
	if ps := progressSubject(s.SubjectPrefix, pipeline); !covered(subjects, ps) {
		return nil, fmt.Errorf("stream %s (subjects %v) does not hold Sluice's progress subject %s: add %s.> (or that subject) to the stream's subjects",
			name, subjects, ps, s.SubjectPrefix)
	}
	return st, nil
}
