namespace Kcm.Runtime.Queues;

/// <summary>A delaying queue whose retries are spaced by a rate limiter (client-go's RateLimitingInterface).</summary>
public class RateLimitingQueue<T> : DelayingQueue<T>
    where T : notnull
{
    private readonly IRateLimiter<T> _rateLimiter;

    public RateLimitingQueue(IRateLimiter<T> rateLimiter, WorkQueueOptions? options = null)
        : base(options)
    {
        _rateLimiter = rateLimiter;
    }

    /// <summary>A queue with <see cref="RateLimiters.DefaultController{T}"/> on the options' clock.</summary>
    public static RateLimitingQueue<T> WithDefaultControllerRateLimiter(WorkQueueOptions? options = null)
    {
        options ??= new WorkQueueOptions();
        return new RateLimitingQueue<T>(RateLimiters.DefaultController<T>(options.TimeProvider), options);
    }

    /// <summary>Adds the item once the rate limiter allows it.</summary>
    public void AddRateLimited(T item) => AddAfter(item, _rateLimiter.When(item));

    /// <summary>Resets the item's failure count; call after it was processed successfully.</summary>
    public void Forget(T item) => _rateLimiter.Forget(item);

    public int NumRequeues(T item) => _rateLimiter.NumRequeues(item);
}
