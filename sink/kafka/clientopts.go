package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// ClientOptions are the connection options (brokers, TLS, SASL) of a
// client, for other Kafka users (the kafka source) with the same settings.
func ClientOptions(brokers []string, sasl SASL, tls TLS) ([]kgo.Opt, error) {
	return connOpts(&Settings{Brokers: brokers, SASL: sasl, TLS: tls})
}
