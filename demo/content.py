"""The demo column: written for Colloquy, in the style of a technical course."""

PEOPLE = {
    "author": {
        "email": "lin.author@example.com",
        "display_name": "林老师",
        "bio": "后端工程师，写了十年 Python。这个专栏讲怎样把一个小网站做稳、做快。",
    },
    "reader": {
        "email": "reader@example.com",
        "display_name": "小周",
        "bio": "Reading one chapter a day.",
    },
    "moderator": {
        "email": "moderator@example.com",
        "display_name": "版主阿青",
        "bio": "Keeps the discussions friendly.",
    },
    "ada": {"email": "ada@example.com", "display_name": "ada_dev"},
    "wang": {"email": "wang@example.com", "display_name": "王五"},
    "mei": {"email": "mei@example.com", "display_name": "Mei"},
}

COLUMN = {
    "title": "从零构建可靠的 Web 服务",
    "slug": "reliable-web-services",
    "description": (
        "十二讲，从一次请求的来回讲起：数据库事务、缓存、任务队列、限流与观测。"
        "每一讲都配一个能跑的小例子。\n"
        "Twelve chapters on building web services that stay up: transactions, caching, "
        "queues, rate limits and observability."
    ),
}

CHAPTERS = [
    {
        "title": "开篇词 | 一次请求的来回",
        "slug": "request-round-trip",
        "body": """你好，我是林老师。

这个专栏想回答一个朴素的问题：**用户点下按钮之后，到底发生了什么？**

## 一次请求的五站

1. 浏览器建立连接，发出 HTTP 请求；
2. 反向代理把请求交给应用进程；
3. 应用进程解析参数、检查权限；
4. 在**一个事务**里完成写入；
5. 渲染页面，返回响应。

```python
def post_comment(request, article_id):
    form = CommentForm(request.POST)
    if not form.is_valid():
        return render(request, "form.html", {"form": form}, status=400)
    comment = services.post_comment(article_id=article_id, **form.cleaned_data)
    return redirect(comment)
```

> 每一站都可能出错。可靠的服务，不是不出错，而是出错时知道自己处在哪一站。

下一讲，我们从数据库事务开始。
""",
    },
    {
        "title": "01 | 事务：要么都做，要么都不做",
        "slug": "transactions",
        "body": """Why do we need transactions? Think of a reply: the new comment, the parent's reply
count and the article's comment count must change **together**.

## 计数器为什么会漂移

先读后写（read-modify-write）在并发下会丢更新：两个请求同时读到 `like_count = 41`，
各自加一写回，结果是 42 而不是 43。

```sql
UPDATE comment SET like_count = like_count + 1 WHERE id = 123;
```

让数据库自己做加法，就没有这个问题。Django 里写作 `F("like_count") + 1`。

## 小结

- 相关的写入放进同一个事务；
- 计数用 `F()` 表达式，定期用重新统计来验证；
- 发邮件这类副作用，等事务提交后再做（`transaction.on_commit`）。
""",
    },
    {
        "title": "02 | 缓存：最快的请求是不用算的请求",
        "slug": "caching",
        "body": """Template rendering is often where a Django page spends most of its time.

## 什么值得缓存

讨论区的 HTML 对所有匿名读者都是一样的，只在有人发言时才变化。给每个讨论串一个
“版本号”，每次写入就加一，缓存的键里带上这个版本号——旧的缓存自然失效，不需要手工清理。

| 方案 | 失效方式 | 适用 |
| --- | --- | --- |
| 按时间过期 | TTL | 容忍旧数据 |
| 版本号键 | 写入时加一 | 讨论串、列表 |

下一讲我们讲任务队列。
""",
    },
]

# Threads per chapter index: the first item is the root (who, text); the others are replies
# (who, text, index of the comment replied to within the thread).
DISCUSSION = {
    0: [
        [
            ("reader", "第五站写得很清楚。想问一下：反向代理和应用进程之间一般用什么协议？"),
            (
                "author",
                "常见的是 HTTP/1.1（gunicorn、uWSGI 都支持），也有用 uwsgi 协议的。专栏后面讲部署时会展开。",
                0,
            ),
            ("reader", "明白了，谢谢老师！", 1),
        ],
        [
            (
                "ada",
                "The code sample returns **400** on an invalid form — nice. Many tutorials return 200 with errors, which confuses htmx clients.",
            ),
            ("wang", "同意，400 还能让前端区分“保存失败”和“保存成功”。", 0),
            (
                "mei",
                "@ada_dev htmx by default doesn't swap 4xx responses, so you need `htmx:beforeSwap` or a response-targets extension.",
                0,
            ),
        ],
        [
            ("mei", "期待后面讲观测的部分 👀"),
        ],
    ],
    1: [
        [
            ("wang", "以前真遇到过点赞数对不上的情况，原来是先读后写的问题。"),
            ("author", "是的，这是最常见的一种。还有一种是重复点击：需要唯一约束兜底。", 0),
            ("ada", "And a recount command to prove the numbers right after a migration.", 1),
            ("author", "Exactly — we'll write one in chapter 4.", 2),
        ],
        [
            ("reader", "`on_commit` 在测试里不执行怎么办？"),
            ("mei", "pytest-django 有 `django_capture_on_commit_callbacks`，可以让回调执行。", 0),
        ],
    ],
}
