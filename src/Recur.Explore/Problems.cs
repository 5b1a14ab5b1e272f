using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Recur.Explore;

/// <summary>A request the server refuses, with the status and the sentence that says why.</summary>
sealed class RequestException(string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Turns refused input into a problem document (RFC 9457: <c>status</c>, <c>title</c>, <c>detail</c>) instead of an
/// empty 400 or a stack trace: malformed JSON names the place in the body, a missing field its name, an oversized body
/// the limit, a value out of range the value and its range.
/// </summary>
static class Problems
{
    public static async Task Middleware(HttpContext http, Func<Task> next)
    {
        try { await next().ConfigureAwait(false); }
        catch (Exception e) when (Status(e) is int status && !http.Response.HasStarted)
        {
            http.Response.Clear();
            http.Response.StatusCode = status;
            await Results.Problem(Detail(e), statusCode: status).ExecuteAsync(http).ConfigureAwait(false);
            return;
        }
        // refusals made before an endpoint ran (an oversized body, no such path) carry no body of their own
        if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Response.ContentType is null)
        {
            int status = http.Response.StatusCode;
            string detail = status switch
            {
                StatusCodes.Status413PayloadTooLarge => TooLarge,
                StatusCodes.Status404NotFound => $"there is no {http.Request.Path} here (see /openapi/v1.json).",
                StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not how {http.Request.Path} is "
                    + "called (see /openapi/v1.json).",
                StatusCodes.Status415UnsupportedMediaType => "the body must be JSON (Content-Type: application/json).",
                _ => $"the request was refused ({status}).",
            };
            await Results.Problem(detail, statusCode: status).ExecuteAsync(http).ConfigureAwait(false);
        }
    }

    const string TooLarge = "the request body is larger than the server accepts (--max-request-bytes).";

    static int? Status(Exception e) => e switch
    {
        RequestException r => r.Status,
        BadHttpRequestException b => b.StatusCode,
        // the library's own checks of a request's values (sampling settings, lengths, shapes)
        ArgumentException or InvalidDataException => StatusCodes.Status400BadRequest,
        _ => null,
    };

    static string Detail(Exception e)
    {
        if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            return TooLarge;
        if (e is BadHttpRequestException && e.InnerException is JsonException json)
            return $"the body is not the JSON this endpoint reads: {json.Message}";
        return e.Message;
    }
}
