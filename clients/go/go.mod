module github.com/sluice-gateway/sluice/clients/go

go 1.19
