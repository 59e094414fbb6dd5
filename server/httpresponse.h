#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QPair>

namespace mailcaff::server {

/// A complete HTTP response. Every body we send is JSON (API.md).
struct HttpResponse
{
    int status = 200;
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers; ///< besides Content-Type, Content-Length, Connection

    static HttpResponse json(int status, const QJsonObject &object);
    /// A body already written as JSON text (e.g. VerificationResult::toJsonBytes()).
    static HttpResponse jsonText(int status, QByteArray body);
    /// `{"error": message}`: the one error body of API.md.
    static HttpResponse error(int status, const QString &message);
    HttpResponse &withHeader(const QByteArray &name, const QByteArray &value)
    {
        headers.append({name, value});
        return *this;
    }

    /// The bytes on the wire, HTTP/1.1. `close` adds "Connection: close"; a response to HEAD has no body.
    QByteArray serialize(bool close, bool withBody = true) const;
    static QByteArray reasonPhrase(int status);
};

} // namespace mailcaff::server
