module hybridstream.local/runc-capfix

go 1.22
