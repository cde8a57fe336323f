"""The legacy parser against the real sample pages (/work/shared/legacy) and crafted inputs."""

import datetime
import io
import pickle
import zipfile

import pytest

from forum.legacy import (
    LegacyChapter,
    LegacyComment,
    LegacyFormatError,
    LegacyReply,
    chapter_key,
    chapter_title_from_filename,
    detect_format,
    iter_chapters,
    iter_sources,
    normalize_text,
    parse_chapter,
    parse_source,
    read_nav,
    read_site_name,
    render_export_chapter,
)

K8S = "深入剖析Kubernetes"
D = datetime.date
DT = datetime.datetime


def export_file(
    comments: list[str], *, declared: int | None = None, article: str = "文章\n"
) -> bytes:
    """A crafted export chapter from raw item texts (NAME|TEXT, escaped as in the archive)."""
    items = "".join(
        f'<li><img src="https://a.example/{i}.jpg" width="30px">'
        f"<span>{name}</span> 👍（{i}） 💬（0）"
        f"<div>{text}</div>2020-01-0{i + 1}</li><br/>"
        for i, (name, text) in enumerate(c.split("|", 1) for c in comments)
    )
    count = len(comments) if declared is None else declared
    return f"{article}<div><strong>精选留言（{count}）</strong></div><ul>\n{items}\n</ul>".encode()


def parse(data: bytes, name: str = "col__01 - 章.md") -> LegacyChapter:
    return parse_chapter(data, source=name, column="col")


# --- the whole archive -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(legacy_root):
    sources = list(iter_sources([legacy_root]))
    return sources, [parse_source(s) for s in sources]


def test_every_sample_file_parses_through_iter_sources(archive, legacy_root):
    sources, chapters = archive
    md_files = {
        str(p)
        for p in legacy_root.rglob("*.md")
        if p.name not in {"README.md", "index.md", f"{K8S}.md"}
    }
    assert {s.source for s in sources} == md_files
    assert len(chapters) == 57 + 12 + 57 + 9
    assert sum(c.format == "export" for c in chapters) == 57 + 12
    assert sum(len(c.comments) for c in chapters) == 1841 + 1257
    assert all(
        c.article_html == c.article_preview_html == "" for c in chapters if c.format == "export"
    )
    assert all(c.article_markdown == "" and c.article_html for c in chapters if c.format == "page")


def test_export_column_yields_57_chapters_in_nav_order(archive, legacy_root):
    sources, chapters = archive
    column = [c for c in chapters if c.format == "export" and c.column == K8S]
    nav = read_nav((legacy_root / "export" / K8S / "mkdocs.yml").read_bytes())
    assert len(column) == len(nav) == 57
    assert [c.source.rsplit("/", 1)[1] for c in column] == nav
    assert [c.position for c in column] == list(range(1, 58))
    assert column[0].title == "开篇词 - 打通“容器技术”的任督二脉"
    assert column[1].title == "01 - 预习篇 · 小鲸鱼大事记（一）：初出茅庐"
    assert column[-1].title == "结课测试-这些Kubernetes的相关知识，你都掌握了吗？"


def test_comment_count_equals_declared_count_in_every_export_file(archive):
    _, chapters = archive
    for chapter in chapters:
        if chapter.format == "export" and chapter.declared_count is not None:
            assert len(chapter.comments) == chapter.declared_count, chapter.source
            assert [c.position for c in chapter.comments] == list(range(chapter.declared_count))
    without_section = [
        c.title for c in chapters if c.format == "export" and c.declared_count is None
    ]
    assert without_section == ["第四十二封信 - 有意为之的偶然（创造画面）"]


def test_no_control_characters_survive_in_any_comment(archive):
    _, chapters = archive
    for chapter in chapters:
        for comment in chapter.comments:
            for value in (comment.name, comment.text, *(r.text for r in comment.replies)):
                assert value == value.strip()
                assert not any(ch in value for ch in "\x00\x7f\r\ufeff\b"), (chapter.source, value)


def test_same_comment_is_recognisable_across_formats(archive):
    """README: the same comment has the same (name, date, text) in both formats, which shows
    the two normalizations (entities decoded once; <br> vs newlines) agree."""
    _, chapters = archive
    export = {chapter_key(c.title): c for c in chapters if c.format == "export" and c.column == K8S}
    page = {chapter_key(c.title): c for c in chapters if c.format == "page" and c.column == K8S}
    assert export.keys() == page.keys() and len(page) == 57
    matched = total = 0
    for key, chapter in page.items():
        known = {(c.name, c.created, c.text) for c in export[key].comments}
        for comment in chapter.comments:
            total += 1
            matched += (comment.name, comment.created.date(), comment.text) in known
    # the export keeps the 30 most liked, the page 20 others: 966 of the 1117 are in both
    assert (matched, total) == (966, 1117)


# --- the export column and page-HTML column ----------------------------------------------------


def test_read_nav_and_site_name(legacy_root):
    yml = (legacy_root / "export" / K8S / "mkdocs.yml").read_bytes()
    nav = read_nav(yml)
    assert read_site_name(yml) == K8S
    assert nav[0] == "开篇词 - 打通“容器技术”的任督二脉.md"
    assert nav[14] == "14 - 深入解析Pod对象（一）：基本概念.md"
    assert "index.md" not in nav and f"{K8S}.md" not in nav


def test_opening_chapter_reveals_the_author_in_both_formats(parse_file):
    export = parse_file(f"export/{K8S}/docs/开篇词 - 打通“容器技术”的任督二脉.md")
    page = parse_file(f"page-html/{K8S}/开篇词 _ 打通“容器技术”的任督二脉.md")
    assert export.author_name == page.author_name == "张磊"
    assert export.article_markdown.startswith(
        "你好，我是张磊，Kubernetes社区的一位资深成员和项目维护者。"
    )
    assert page.article_preview_html.startswith(
        "<p>你好，我是张磊，Kubernetes社区的一位资深成员和项目维护者。</p>"
    )
    assert page.title == "开篇词 | 打通“容器技术”的任督二脉"
    assert page.column == K8S and page.position is None


def test_page_html_chapter_13(parse_file):
    chapter = parse_file(f"page-html/{K8S}/13 _ 为什么我们需要Pod？.md")
    assert (chapter.format, chapter.title, chapter.position) == (
        "page",
        "13 | 为什么我们需要Pod？",
        13,
    )
    assert chapter.article_markdown == "" and chapter.declared_count is None
    assert chapter.audio_url.endswith("/a6fbf30060d0a184da6ad973f24e88b6.mp3")
    assert not chapter.article_preview_html.startswith("<audio")
    assert chapter.article_preview_html.endswith(
        "<p>你应该也能立刻回答上来：Kubernetes就是操作系统！</p>"
    )
    assert chapter.article_html.startswith(chapter.article_preview_html)
    assert "<p>非常正确。</p>" in chapter.article_html and "read_end" not in chapter.article_html
    assert "<style>" not in chapter.article_html
    assert len(chapter.comments) == 20
    first = chapter.comments[0]
    assert first == LegacyComment(
        name="段帅民",
        avatar_url="https://static001.geekbang.org/account/avatar/00/0f/6c/c9/abb7bfe3.jpg",
        text="这文章读起来像吃脆苹果，爽，这是我订阅专栏中写的最好的，没有之一",
        created=DT(2018, 9, 21, 9, 0, 48),
        likes=None,
        reply_count=None,
        replies=(LegacyReply(text="这是我见过最形象的评论……", kind="author"),),
        position=0,
    )
    assert chapter.comments[1].replies == ()
    chaos = chapter.comments[2]
    assert chaos.text.startswith(
        "感谢张磊，这是本人看过解释 Pod 以及为何要有 Pod 这个设计最好的文章"
    )
    assert (
        "（看过估计20篇，这是第一篇中文的）。\n\n云计算系统的操作系统是 k8s" in chaos.text
    )  # <br><br>
    assert "k8s.gcr.io/pause" in chaos.text  # &#47; decoded once, by the DOM
    assert "里&quot;虚拟机&quot;" not in chaos.text and '里"虚拟机"的角色' in chaos.text
    assert chapter.comments[-1].replies == (LegacyReply(text="因为有JVM", kind="author"),)
    assert chapter.comments[-1].created == DT(2019, 2, 22, 16, 17, 17)


def test_page_html_column_replies_and_times(archive):
    _, chapters = archive
    pages = [c for c in chapters if c.format == "page" and c.column == K8S]
    comments = [comment for chapter in pages for comment in chapter.comments]
    assert len(comments) == 1117
    assert all(type(c.created) is DT for c in comments)
    assert any(c.created.second for c in comments)
    assert all(len(c.replies) <= 1 for c in comments)
    kinds = [r.kind for c in comments for r in c.replies]
    assert (kinds.count("author"), kinds.count("editor"), len(kinds)) == (357, 1, 358)
    assert all(len(chapter.comments) <= 20 for chapter in pages)


# --- export edge cases: one test per file ------------------------------------------------------

EDGE = "export-edge-cases"


def test_export_empty_name_empty_avatar_and_emoji_names(parse_file):
    chapter = parse_file(
        f"{EDGE}/Java业务开发常见错误100例__09 - 数值计算：注意精度、舍入和溢出问题.md"
    )
    assert (chapter.column, chapter.title, chapter.position) == (
        "Java业务开发常见错误100例",
        "09 - 数值计算：注意精度、舍入和溢出问题",
        9,
    )
    assert chapter.author_name == "朱晔" and chapter.declared_count == len(chapter.comments) == 26
    anonymous = chapter.comments[11]  # <span></span> and src=""
    assert (anonymous.name, anonymous.avatar_url, anonymous.likes, anonymous.reply_count) == (
        "",
        "",
        4,
        1,
    )
    assert anonymous.created == D(2020, 3, 28)
    assert 'BigDecimal num1 = new BigDecimal("3.35");' in anonymous.text  # &quot;
    assert "Set<BigDecimal> treeSet = new TreeSet<>();" in anonymous.text  # &lt; &gt;
    assert anonymous.text.startswith("double\\float精度问题")
    assert (chapter.comments[1].name, chapter.comments[1].likes) == ("👽", 16)
    assert chapter.comments[13].name == "👻"
    assert (chapter.comments[9].name, chapter.comments[9].avatar_url) == ("Geek_3b1096", "")
    assert "1、 ROUND_UP\xa0\n舍入远离零的舍入模式。" in chapter.comments[0].text  # inner NBSP kept


def test_export_markdown_looking_comments_and_fence_in_article(parse_file):
    chapter = parse_file(
        f"{EDGE}/LangChain实战课__04-提示工程（上）：用少样本FewShotTemplate和ExampleSelector创建应景文案.md"
    )
    assert (
        chapter.title == "04-提示工程（上）：用少样本FewShotTemplate和ExampleSelector创建应景文案"
    )
    assert (chapter.position, chapter.author_name, len(chapter.comments)) == (4, "黄佳", 19)
    # fence lines ````plain, ```json, ````: naively unbalanced; the comment header is still found
    fences = [line for line in chapter.article_markdown.split("\n") if line.startswith("```")]
    assert fences == ["````plain", "```json", "````"]
    assert chapter.article_markdown.endswith("这个schema从 \\`\\`\\`json 开始，到 \\`\\`\\` 结束。")
    fenced = chapter.comments[7]
    assert fenced.name == "D.L" and fenced.created == D(2023, 12, 5)
    assert (
        "课程中有段代码\n```\n# 初始化示例选择器\nexample_selector" in fenced.text
    )  # kept as text
    assert "UnicodeEncodeError: 'ascii' codec can't encode" in chapter.comments[5].text  # &#39;
    assert "langchain/__init__.py:34: UserWarning" in chapter.comments[4].text  # &#47;
    assert chapter.comments[17].name == chapter.comments[18].name == "爬行的蜗牛"
    assert chapter.comments[17].avatar_url.startswith("http://thirdwx.qlogo.cn/mmopen/vi_32/")


def test_export_tabs_and_private_use_characters(parse_file):
    chapter = parse_file(f"{EDGE}/MySQL实战45讲__19 - 为什么我只查一行的语句，也执行这么慢？.md")
    assert chapter.author_name is None  # no "你好，我是…" opening
    top = chapter.comments[0]
    assert (top.name, top.likes, top.reply_count, top.created) == (
        "某、人",
        213,
        23,
        D(2018, 12, 26),
    )
    assert (
        "53\tslave_user\tDESKTOP-00HHFO4:63064\t\tBinlog Dump\t3027\t" in chapter.comments[17].text
    )
    assert "@Elvis\nElvis\n\ue626\n0\n" in chapter.comments[4].text
    assert "mysql> show processlist;" in chapter.comments[29].text
    assert chapter.comments[24].name == "alias cd=rm -rf"


def test_export_without_comment_section(parse_file):
    chapter = parse_file(f"{EDGE}/去无方向的信__第四十二封信 - 有意为之的偶然（创造画面）.md")
    assert (chapter.column, chapter.title, chapter.position) == (
        "去无方向的信",
        "第四十二封信 - 有意为之的偶然（创造画面）",
        None,
    )
    assert chapter.comments == () and chapter.declared_count is None and chapter.author_name is None
    assert chapter.article_markdown.startswith(
        "[![](https://static001.geekbang.org/resource/image/3e/04/"
    )
    assert (
        "\n\n\u3000  \n生生：\n\n你好哇。" in chapter.article_markdown
    )  # U+3000 kept in the article
    assert chapter.article_markdown.endswith("这是啥基本功！")


def test_export_empty_article_part(parse_file):
    chapter = parse_file(f"{EDGE}/后端工程师的高阶面经__直播加餐-3个例子教你设计面试连招.md")
    assert chapter.article_markdown == "" and chapter.position is None
    assert chapter.title == "直播加餐-3个例子教你设计面试连招"
    assert chapter.comments == (
        LegacyComment(
            name="吃到140",
            avatar_url="https://static001.geekbang.org/account/avatar/00/0f/ce/df/3e24aa5b.jpg",
            text="大明老师的加餐相当优秀，让最近裸辞的我一点都不焦虑了！",
            created=D(2024, 7, 4),
            likes=2,
            reply_count=0,
        ),
    )


def test_export_name_made_of_del_characters(parse_file):
    chapter = parse_file(f"{EDGE}/如何成为学习高手__16-一玩手机就停不下来？教你如何戒手机.md")
    assert chapter.position == 16 and chapter.author_name is None  # "大家好，我是冷冷" is line 3
    deleted = chapter.comments[3]  # <span>\x7f\x7f\x7f\x7f</span>
    assert (deleted.name, deleted.likes, deleted.reply_count, deleted.created) == (
        "",
        2,
        1,
        D(2021, 7, 23),
    )
    assert deleted.text == "我已经连接看了这栏目的8个章节而忘记看手机了"
    assert '多巴胺的真面目——是个"画假饼"的家伙' in chapter.comments[20].text
    assert chapter.comments[17].name == "Wang, Leo Lei"
    assert chapter.comments[10].name == "🎋锋"


def test_export_nul_character_dropped(parse_file):
    chapter = parse_file(f"{EDGE}/左耳听风__11 - 程序中的错误处理：错误返回码和异常捕捉.md")
    assert chapter.author_name == "陈皓"  # "你好，我是陈皓，网名左耳朵耗子。"
    nul = chapter.comments[4]
    assert (nul.name, nul.likes, nul.created) == ("xfly", 17, D(2017, 11, 7))
    assert "还是经常出现的。\n——\n这三种分类和处置方式比较赞同。" in nul.text  # "—\x00—"
    assert "* 检查一个系统提供给你的错误码" in chapter.comments[3].text
    assert chapter.comments[7].name == "阿仁🇨🇳"


def test_export_reply_text_pasted_into_a_comment(parse_file):
    chapter = parse_file(
        f"{EDGE}/技术管理案例课__16 - 冲突管理3：冲突不可怕，可怕的是引发信任危机.md"
    )
    assert (len(chapter.comments), chapter.declared_count, chapter.author_name) == (11, 11, "许健")
    pasted = chapter.comments[5]  # raw text starts with "\n作者回复: …": it stays comment text
    assert pasted.text.startswith(
        "作者回复: 在心理感受上，你跟你的领导谈话和你跟你的朋友谈话有什么区别呢？\n\n"
    )
    assert pasted.replies == () and pasted.reply_count == 1
    assert chapter.comments[3].text.endswith("然后再反复面谈。")  # trailing blank lines trimmed


def test_export_bom_inside_a_name(parse_file):
    chapter = parse_file(f"{EDGE}/数据分析实战45讲__08 - 数据采集：如何自动化采集数据？.md")
    assert chapter.comments[3].name == "水电工٩(｡•ω•｡)و"  # U+FEFF dropped
    assert (chapter.comments[3].likes, chapter.comments[3].created) == (11, D(2019, 8, 4))
    assert "单位: 政府/企业/高校\n行业: 交通/金融/能源" in chapter.comments[7].text
    twins = chapter.comments[24], chapter.comments[25]  # the same comment posted twice
    assert twins[0].text == twins[1].text and twins[0].created == twins[1].created
    assert twins[0].position != twins[1].position


def test_export_double_escaped_entities_decoded_once(parse_file):
    chapter = parse_file(
        f"{EDGE}/朱涛 · Kotlin编程第一课__19 - Channel：为什么说Channel是“热”的？.md"
    )
    assert (chapter.column, chapter.author_name) == ("朱涛 · Kotlin编程第一课", "朱涛")
    doubled = chapter.comments[12]  # &amp;#34; in the file: the reader saw &#34;
    assert doubled.text.count("&#34;") == 6
    assert "println(&#34;Send: $it&#34;)" in doubled.text
    assert "public fun <E> Channel(" in chapter.comments[9].text
    assert "https://github.com/Kotlin/kotlinx.coroutines/releases" in chapter.comments[11].text


def test_export_negative_reply_count(parse_file):
    chapter = parse_file(
        f"{EDGE}/深入浅出云计算__03 - 云虚拟机（二）：眼花缭乱的虚拟机型号，我该如何选择？.md"
    )
    odd = chapter.comments[19]
    assert (odd.name, odd.likes, odd.reply_count, odd.created) == ("怀朔", 0, -1, D(2020, 3, 9))
    assert chapter.author_name == "何恺铎"


def test_export_crlf_in_comment_text(parse_file, legacy_root):
    path = f"{EDGE}/程序员进阶攻略__20 - 执行：从坚持到持续，再到形成自己的节奏.md"
    assert (legacy_root / path).read_bytes().count(b"\r\n") == 11
    chapter = parse_file(path)
    third = chapter.comments[1]
    assert (third.name, third.likes, third.reply_count) == ("third", 11, 2)
    assert third.text.startswith(
        "心得如下：\n1.把大目标拆解，分解为任务，达到当下可完成\n\n2.计划是给予预期"
    )
    assert "\r" not in third.text
    assert chapter.author_name is None


# --- page-HTML edge cases: one test per file -------------------------------------------------

PAGE = "page-html-edge-cases"


def test_page_long_article_after_the_preview_marker(parse_file):
    chapter = parse_file(f"{PAGE}/Go 语言项目开发实战__03 _ 项目部署：如何快速部署 IAM 系统？.md")
    assert (chapter.column, chapter.title, chapter.position) == (
        "Go 语言项目开发实战",
        "03 | 项目部署：如何快速部署 IAM 系统？",
        3,
    )
    assert chapter.author_name == "孔令飞"
    assert chapter.article_preview_html.endswith(
        "但我还是希望你能按照我今天讲的详细步骤来操作。</p>"
    )
    assert "下载 iam 项目代码" not in chapter.article_preview_html
    assert "<h2>下载 iam 项目代码</h2>" in chapter.article_html
    assert len(chapter.article_html) > 50 * len(chapter.article_preview_html) // 2
    first = chapter.comments[0]
    assert (first.name, first.created) == ("Q", DT(2021, 5, 27, 15, 43, 39))
    assert first.text.startswith(
        "---用户名和密码有错---\n$ curl -s -XPOST -H'Content-Type: application/json'"
    )
    (reply,) = first.replies
    assert reply.kind == "author" and reply.text.startswith(
        "感谢Q哥的反馈。\n\n这个报错最新的master分支"
    )
    assert "$ git clone --depth=1 https://github.com/marmotedu/iam" in reply.text
    assert [i for i, c in enumerate(chapter.comments) if not c.replies] == [4, 12, 14]
    assert [c.name for c in chapter.comments].count("pedro") == 2  # same person, two comments


def test_page_tabs_and_entities_in_code_comments(parse_file):
    chapter = parse_file(f"{PAGE}/Go语言核心36讲__17 _ go语句及其执行规则（下）.md")
    assert (chapter.title, chapter.author_name) == ("17 | go语句及其执行规则（下）", "郝林")
    assert chapter.comments[2].text.startswith(
        "我有一个更简单的实现方式， 如下\nfunc main(){\n\tch := make(chan struct{})\n"
        "\tfor i:=0; i < 100; i++{"
    )
    assert "if n := atomic.LoadUint32(&count); n == i {" in chapter.comments[4].text  # &amp; once
    assert chapter.comments[4].replies == (LegacyReply(text="可以加个sleep", kind="author"),)
    assert chapter.comments[1].replies == ()
    assert chapter.comments[19].created == DT(2018, 9, 19, 9, 38, 14)


def test_page_without_audio_and_without_comments(parse_file):
    chapter = parse_file(f"{PAGE}/Kafka核心源码解读__期中测试 _ 这些源码知识，你都掌握了吗？.md")
    assert (chapter.title, chapter.position, chapter.author_name) == (
        "期中测试 | 这些源码知识，你都掌握了吗？",
        None,
        "胡夕",
    )
    assert chapter.audio_url == "" and chapter.comments == ()
    assert chapter.article_preview_html == chapter.article_html  # the marker ends the file
    assert chapter.article_preview_html.startswith("<p>你好，我是胡夕。</p>")
    assert chapter.article_preview_html.endswith('alt=""></a></p>')


def test_page_video_lesson(parse_file):
    chapter = parse_file(f"{PAGE}/Kubernetes入门实战课__08｜视频：入门篇实操总结.md")
    assert (chapter.title, chapter.position, chapter.author_name) == (
        "08｜视频：入门篇实操总结",
        8,
        "Chrono",
    )
    assert chapter.audio_url == "" and chapter.article_preview_html.startswith(
        "<p>你好，我是Chrono。</p>"
    )
    assert chapter.article_html.count("<video ") == 5
    assert chapter.comments[0].replies[0].text == (
        "毕竟我们的目标是学习Kubernetes，以后有机会可以专门讲docker。\n\n"
        "简单理解，有<none>标记，没标签的就是dangling images，一般是标签被新镜像覆盖了。"
    )
    assert [(i, c.name) for i, c in enumerate(chapter.comments) if not c.avatar_url] == [
        (4, "Geek_4d5ba0")
    ]
    assert [c.name for c in chapter.comments].count("lesserror") == 3
    assert all(len(c.replies) == 1 for c in chapter.comments)


def test_page_without_style_block(parse_file):
    chapter = parse_file(
        f"{PAGE}/Serverless进阶实战课__08 _ 运行时（下）："
        "不同语言形态下的函数在容器中是如何执行的？.md"
    )
    assert chapter.comments == () and chapter.author_name == "静远"
    assert chapter.article_html.endswith(
        "感谢你的阅读，也欢迎你把这节课分享给更多的朋友一起交流学习。</p><p></p><p></p>"
    )
    assert "&nbsp; return 'hello world'" in chapter.article_preview_html  # raw HTML: entities stay


def test_page_empty_avatars_and_quoting_replies(parse_file):
    chapter = parse_file(f"{PAGE}/容器实战高手课__08 _ 容器内存：我的容器为什么被杀了？.md")
    assert [i for i, c in enumerate(chapter.comments) if not c.avatar_url] == [2, 5, 8, 14, 16, 17]
    assert (
        chapter.comments[0]
        .replies[0]
        .text.startswith(
            "@谢哈好，\n> 但memalloc进程会被暂停申请内存，"
            "状态会变成因等待资源申请而变成task interruptable\n\n"
        )
    )
    assert "/proc/<pid>/oom_score_adj" in chapter.comments[12].replies[0].text
    assert sum(bool(c.replies) for c in chapter.comments) == 15
    assert chapter.comments[2].name == chapter.comments[5].name == "垂死挣扎的咸鱼"


def test_page_video_after_the_marker_only(parse_file):
    chapter = parse_file(f"{PAGE}/网络排查案例课__06 _ 定位防火墙（二）：网络层的精确打击.md")
    assert (
        "<video" not in chapter.article_preview_html and chapter.article_html.count("<video") == 1
    )
    assert chapter.author_name == "胜辉"
    assert sum(len(c.replies) for c in chapter.comments) == 19
    assert chapter.comments[18].replies == ()
    assert [c.name for c in chapter.comments].count("JianXu") == 3


def test_page_emoji_name_and_reply_with_leading_newline(parse_file):
    chapter = parse_file(f"{PAGE}/透视HTTP协议__01 _ 时势与英雄：HTTP的前世今生.md")
    assert chapter.author_name is None  # opens with "HTTP协议在我们的生活中随处可见"
    assert chapter.comments[12].name == "💍"
    assert chapter.comments[10].replies == (LegacyReply(text="✅", kind="author"),)
    assert "即虚拟主机\n\t\twww.a.com\n\t\twww.b.com\n\t\t…\n" in chapter.comments[8].text
    assert (
        chapter.comments[17].replies[0].text.startswith("http/1里的协议头是ASCII")
    )  # "<br>http/1…"
    assert chapter.comments[16].avatar_url == ""


def test_page_editor_replies(parse_file):
    chapter = parse_file(
        f"{PAGE}/郭东白的架构课__编辑加餐｜六张图，带你回顾架构师的六条生存法则.md"
    )
    assert (chapter.title, chapter.position) == (
        "编辑加餐｜六张图，带你回顾架构师的六条生存法则",
        None,
    )
    assert chapter.author_name == "辰洋"  # the opening line is by the editor
    kinds = [r.kind for c in chapter.comments for r in c.replies]
    assert (kinds.count("editor"), kinds.count("author")) == (15, 1)
    assert chapter.comments[1].replies == (LegacyReply(text="谢谢啊！ 赞！", kind="author"),)
    assert (
        chapter.comments[0].replies[0].text.startswith("源文件来啦～链接: https://pan.baidu.com/s/")
    )
    assert chapter.comments[0].text.endswith("😄")


# --- normalization ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a&#47;b &quot;q&quot; &#xff0c;", 'a/b "q" ，'),
        ("&amp;#34;", "&#34;"),  # decoded exactly once
        ("&amp;amp;", "&amp;"),
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("&#13;x", "x"),
        ("a\x00b\x08c\x1bd\x7fe\x85f", "abcdef"),
        ("\ufeffname\u200b", "name"),
        ("\u3000", ""),
        ("\u3000 名字 \u3000", "名字"),
        ("  \n\tpara 1\n\n\tpara 2 \n", "para 1\n\n\tpara 2"),
        ("bad \ufffd kept", "bad \ufffd kept"),
        ("👨\u200d🏫 ok", "👨\u200d🏫 ok"),
        ("```\n# not a heading\n```", "```\n# not a heading\n```"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_without_entity_decoding():
    assert normalize_text(" &amp; \r\n", decode_entities=False) == "&amp;"


# --- titles, keys ----------------------------------------------------------------------------


def test_chapter_title_from_filename():
    assert chapter_title_from_filename("13 _ 为什么我们需要Pod？.md") == "13 | 为什么我们需要Pod？"
    assert chapter_title_from_filename("13 - 为什么我们需要Pod？.md") == "13 - 为什么我们需要Pod？"
    assert (
        chapter_title_from_filename("左耳听风__11 - 程序中的错误处理.md") == "11 - 程序中的错误处理"
    )
    assert (
        chapter_title_from_filename("/x/y/Go 语言项目开发实战__03 _ 项目部署.md") == "03 | 项目部署"
    )
    assert chapter_title_from_filename("08｜视频：入门篇实操总结.md") == "08｜视频：入门篇实操总结"
    assert (
        chapter_title_from_filename("01 - __init__ 详解.md", column="Python")
        == "01 - __init__ 详解"
    )


@pytest.mark.parametrize(
    "title",
    [
        "13 - 为什么我们需要Pod？",
        "13 | 为什么我们需要Pod？",
        "13｜为什么我们需要Pod?",
        "13 _ 为什么我们需要Pod？",
        "13-为什么我们需要 Pod？",
        "013  -  为什么我们需要pod？.md",
    ],
)
def test_chapter_key_matches_spellings(title):
    assert chapter_key(title) == chapter_key("13 - 为什么我们需要Pod？") == "13:为什么我们需要pod"


def test_chapter_key_matches_the_two_formats_of_the_column():
    assert chapter_key("49 _ Custom Metrics: 让Auto Scaling不再“食之无味”") == chapter_key(
        "49 - Custom Metrics： 让Auto Scaling不再“食之无味”"
    )
    assert chapter_key("结课测试｜这些Kubernetes的相关知识，你都掌握了吗？") == chapter_key(
        "结课测试-这些Kubernetes的相关知识，你都掌握了吗？"
    )
    assert chapter_key("1 - 1x") != chapter_key("11 - x")
    assert chapter_key("13 - A") != chapter_key("14 - A")


# --- crafted export inputs -------------------------------------------------------------------


def test_crafted_export_oddities():
    data = export_file(
        [
            "\u3000|&#xff0c;hex&#x4e2d;",
            "\ufeff名&#47;字|a\x08b\x00c&amp;#34;",
            "x|bad \ufffd char",
            "y|text with &lt;&#47;div&gt; and &lt;li&gt;",
        ],
        article="\ufeff你好，我是 Tony Bai，欢迎。\r\n\r\n```go\nunclosed fence\n",
    )
    chapter = parse(data)
    assert chapter.author_name == "Tony Bai"
    assert chapter.article_markdown == "你好，我是 Tony Bai，欢迎。\n\n```go\nunclosed fence"
    names = [c.name for c in chapter.comments]
    assert names == ["", "名/字", "x", "y"]
    assert [c.text for c in chapter.comments] == [
        "，hex中",
        "abc&#34;",
        "bad \ufffd char",
        "text with </div> and <li>",
    ]


def test_export_item_missing_its_date_is_reported_not_merged():
    data = export_file(["a|one", "b|two", "c|three"]).decode().replace("</div>2020-01-01", "</div>")
    with pytest.raises(LegacyFormatError, match="malformed comment item #1") as info:
        parse(("x\n" + data).encode())
    assert info.value.line == 4


def test_export_raw_div_inside_text_does_not_end_the_item():
    data = export_file(["a|one</div>2020-01-01</li><br/>still one", "b|two"])
    chapter = parse(data)
    assert [c.text for c in chapter.comments] == ["one</div>2020-01-01</li><br/>still one", "two"]


def test_export_count_mismatch_is_reported_with_the_header_line():
    data = export_file(["a|one", "b|two"], declared=3, article="l1\nl2\n")
    with pytest.raises(LegacyFormatError) as info:
        parse_chapter(data, source="col__x.md", column="col")
    assert info.value.line == 3 and info.value.source == "col__x.md"
    assert str(info.value) == "col__x.md:3: declared 3 comments (精选留言（3）) but found 2"


def test_export_malformed_item_is_reported_with_its_line():
    good = export_file(["a|one", "b|two\nline"]).decode()
    broken = good.replace("2020-01-02</li>", "yesterday</li>")
    with pytest.raises(LegacyFormatError, match="malformed comment item #2") as info:
        parse(broken.encode())
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"text\n<div><strong>\xe7\xb2\xbe\xe9\x80\x89\xe7\x95\x99\xe8\xa8\x80(x)</strong>",
            "malformed comment section header",
        ),
        (export_file(["a|one"]).replace(b"\n</ul>", b""), "comment list not closed"),
        (export_file(["a|one"]) + b"\ntrailing", "unexpected text after the comment list"),
        (export_file(["a|one"]).replace(b"2020-01-01", b"2020-02-30"), "invalid date '2020-02-30'"),
    ],
)
def test_export_structural_errors(data, reason):
    with pytest.raises(LegacyFormatError, match=reason):
        parse(data)


def test_crlf_file_and_bom_at_start():
    data = b"\xef\xbb\xbf" + export_file(["a|x\ny"]).replace(b"\n", b"\r\n")
    chapter = parse(data)
    assert chapter.comments[0].text == "x\ny" and chapter.article_markdown == "文章"


# --- crafted page inputs ---------------------------------------------------------------------


def page_file(
    comments_html: str, *, article: str = "<p>你好，我是某人。</p>", after: str = "<p>更多</p>"
) -> bytes:
    head = '<audio title="t" src="https://a.example/x.mp3" controls="controls"></audio> \n'
    style = "\n<style>\n  ._2sjJGcOH_0 { color: red; }\n</style>" if comments_html else ""
    ul = f"<ul>{comments_html}</ul>" if comments_html else ""
    return f"{head}{article}<!-- [[[read_end]]] -->{after}{style}{ul}".encode()


def page_comment(
    name="n", text="t", reply="", when="2020-01-02 03:04:05", src="https://a.example/a.jpg"
):
    reply_html = f'<p class="_3KxQPN3V_0">{reply}</p>' if reply else ""
    return (
        f'<li>\n<div class="_2sjJGcOH_0"><img src="{src}"\n  class="_3FLYR4bF_0">\n'
        f'<div class="_36ChpWj4_0">\n  <div class="_2zFoi7sd_0"><span>{name}</span>\n  </div>\n'
        f'  <div class="_2_QraFYR_0">{text}</div>\n  <div class="_10o3OAxT_0">{reply_html}</div>\n'
        f'  <div class="_3klNVc4Z_0">\n    <div class="_3Hkula0k_0">{when}</div>\n  </div>\n'
        "</div>\n</div>\n</li>\n"
    )


def test_crafted_page_comment_normalization():
    data = page_file(
        page_comment(
            name="\u3000", text="a<br>b<br><br>&amp;#34; &lt;br&gt;\x00", reply="编辑回复：好"
        )
        + page_comment(name="x&amp;y", src="", reply="作者回复: a<br/>b")
    )
    chapter = parse(data, "col__02 _ 标题.md")
    assert (chapter.format, chapter.title, chapter.position, chapter.author_name) == (
        "page",
        "02 | 标题",
        2,
        "某人",
    )
    assert chapter.audio_url == "https://a.example/x.mp3"
    first, second = chapter.comments
    assert (first.name, first.text) == ("", "a\nb\n\n&#34; <br>")  # the DOM decoded once
    assert first.replies == (LegacyReply("好", "editor"),)
    assert first.created == DT(2020, 1, 2, 3, 4, 5)
    assert (second.name, second.avatar_url, second.replies) == (
        "x&y",
        "",
        (LegacyReply("a\nb", "author"),),
    )


def test_page_without_comments_keeps_a_trailing_ul_in_the_article():
    chapter = parse(page_file("", after="<ul><li>要点</li></ul>"))
    assert chapter.comments == ()
    assert chapter.article_html == "<p>你好，我是某人。</p><ul><li>要点</li></ul>"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (page_file(page_comment()).replace(b"<!-- [[[read_end]]] -->", b""), "neither format"),
        (page_file(page_comment()) + b"<!-- [[[read_end]]] -->", "exactly one"),
        (page_file(page_comment(when="2020-01-02")), "invalid time"),
        (page_file(page_comment(reply="读者回复: x")), "reply without"),
        (page_file(page_comment().replace('class="_2_QraFYR_0"', 'class="x"')), "has no text"),
    ],
)
def test_page_structural_errors(data, reason):
    with pytest.raises(LegacyFormatError, match=reason):
        parse(data)


# --- bytes, formats, errors ------------------------------------------------------------------


def test_detect_format():
    assert detect_format(export_file(["a|b"])) == "export"
    assert detect_format(b"# just markdown, no comments\n") == "export"
    assert detect_format(page_file(page_comment())) == "page"
    for bad in (
        b"",
        b"  \n",
        b"\xff\xfe\x00x",
        b"PK\x03\x04rest",
        b"\x00\x01\x02\x03abc",
        b"<html><body>x",
    ):
        with pytest.raises(LegacyFormatError):
            detect_format(bad)


def test_not_utf8_and_binary_errors_name_the_source():
    with pytest.raises(LegacyFormatError) as info:
        parse_chapter(b"line 1\nline 2 " + "第二".encode("gbk"), source="a/b.md", column="c")
    assert info.value.source == "a/b.md" and info.value.line == 2
    assert str(info.value).startswith("a/b.md:2: not UTF-8 text")
    with pytest.raises(LegacyFormatError, match=r"^x\.md: binary"):
        parse_chapter(bytes(range(32)) * 10, source="x.md", column="c")


def test_error_message_format_and_pickling():
    assert str(LegacyFormatError("r")) == "r"
    assert str(LegacyFormatError("r", source="s")) == "s: r"
    assert str(LegacyFormatError("r", line=3)) == "3: r"
    assert str(LegacyFormatError("r", source="s", line=3)) == "s:3: r"
    error = pickle.loads(pickle.dumps(LegacyFormatError("r", source="s", line=3)))  # noqa: S301
    assert (error.reason, error.source, error.line, str(error)) == ("r", "s", 3, "s:3: r")
    assert isinstance(error, ValueError)


# --- iter_sources ----------------------------------------------------------------------------


def test_iter_sources_on_a_zip_of_the_archive(legacy_root, tmp_path):
    archive = tmp_path / "legacy.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(legacy_root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(legacy_root.parent).as_posix())
    from_zip = list(iter_sources([archive]))
    from_folder = list(iter_sources([legacy_root]))
    assert [(s.column, s.position, s.data) for s in from_zip] == [
        (s.column, s.position, s.data) for s in from_folder
    ]
    assert (
        from_zip[0].source
        == f"{archive}/legacy/export/{K8S}/docs/开篇词 - 打通“容器技术”的任督二脉.md"
    )


def test_iter_sources_on_single_files_and_column_folders(legacy_root):
    docs = legacy_root / "export" / K8S / "docs"
    (single,) = iter_sources([docs / "13 - 为什么我们需要Pod？.md"])
    assert (single.column, single.position) == (K8S, 14)  # nav index (开篇词 is 1), not 13
    (edge,) = iter_sources(
        [
            legacy_root
            / "export-edge-cases"
            / "左耳听风__11 - 程序中的错误处理：错误返回码和异常捕捉.md"
        ]
    )
    assert (edge.column, edge.position) == ("左耳听风", 11)
    pages = list(iter_sources([legacy_root / "page-html" / K8S]))
    assert len(pages) == 57 and {p.column for p in pages} == {K8S}
    assert [p.position for p in pages[:3]] == [1, 2, 3]  # natural order: 01, 02, 03 …
    assert pages[-1].position is None  # 结课测试…
    twice = list(iter_sources([legacy_root / "page-html", legacy_root / "page-html" / K8S]))
    assert len(twice) == 57  # a file reached twice is yielded once


def _gbk_placeholder(name: str) -> str:
    """An ASCII name with the byte length of ``name`` in GBK (zipfile then sets no UTF-8 flag)."""
    return "".join(chr(b) if b < 0x80 else "X" for b in name.encode("gbk"))


def test_iter_sources_zip_with_gbk_names_and_nested_zip(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("专栏A__03 - 三.md", export_file(["a|b"]))
    gbk_names = ["专栏B/01 _ 一.md", "专栏B/index.md"]
    outer_path = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer_path, "w") as zf:
        zf.writestr(_gbk_placeholder(gbk_names[0]), page_file(page_comment()))
        zf.writestr("inner.zip", inner.getvalue())
        zf.writestr("README.md", b"not a chapter")
        zf.writestr(_gbk_placeholder(gbk_names[1]), b"column page")
    # as written by a Chinese Windows tool: GBK names without the UTF-8 flag
    data = outer_path.read_bytes()
    for name in gbk_names:
        data = data.replace(_gbk_placeholder(name).encode(), name.encode("gbk"))
    outer_path.write_bytes(data)
    sources = list(iter_sources([outer_path]))
    assert [(s.column, s.position) for s in sources] == [("专栏A", 3), ("专栏B", 1)]
    assert sources[0].source == f"{outer_path}/inner.zip/专栏A__03 - 三.md"
    assert sources[1].source == f"{outer_path}/专栏B/01 _ 一.md"
    chapters = [parse_source(s) for s in sources]
    assert [(c.format, c.title) for c in chapters] == [("export", "03 - 三"), ("page", "01 | 一")]


def test_iter_sources_errors(tmp_path):
    with pytest.raises(LegacyFormatError, match="no such file"):
        list(iter_sources([tmp_path / "missing"]))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LegacyFormatError, match="not a readable zip archive"):
        list(iter_sources([bad]))
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(LegacyFormatError, match="not a chapter file"):
        list(iter_sources([other]))


def test_read_nav_forms():
    yml = (
        "site_name: '专栏'\nnav:\n  - 专栏.md\n  - index.md\n  - '01 - 一.md'\n"
        '  - 第二章: "02 - 二.md"\n  - 部分:\n      - 03 - 三.md\n  - 外链: https://example.com\n'
        "# comment\ntheme:\n  - x.md\n"
    ).encode()
    assert read_site_name(yml) == "专栏"
    assert read_nav(yml) == ["01 - 一.md", "02 - 二.md", "03 - 三.md"]
    assert read_nav(b"site_name: x\n") == []


def test_iter_chapters_and_render_roundtrip_of_a_real_chapter(legacy_root):
    path = (
        legacy_root
        / "export-edge-cases"
        / "朱涛 · Kotlin编程第一课__19 - Channel：为什么说Channel是“热”的？.md"
    )
    (chapter,) = iter_chapters([path])
    again = parse_chapter(
        render_export_chapter(chapter), source=chapter.source, column=chapter.column
    )
    assert again.comments == chapter.comments
    assert again.article_markdown == chapter.article_markdown
    assert (again.title, again.position, again.author_name) == (
        chapter.title,
        chapter.position,
        chapter.author_name,
    )


def test_iter_sources_on_the_docs_folder_of_an_export_column(legacy_root):
    sources = list(iter_sources([legacy_root / "export" / K8S / "docs"]))
    assert len(sources) == 57 and sources[0].position == 1 and {s.column for s in sources} == {K8S}


def test_title_when_the_caller_names_the_column_differently():
    data = export_file(["a|b"])
    chapter = parse_chapter(
        data, source="dir/左耳听风__11 - 错误处理.md", column="左耳听风（重制）"
    )
    assert (chapter.title, chapter.column, chapter.position) == (
        "11 - 错误处理",
        "左耳听风（重制）",
        11,
    )
    chapter = parse_chapter(data, source="dir/01 - __init__ 详解.md", column="Python")
    assert (chapter.title, chapter.position) == ("01 - __init__ 详解", 1)


@pytest.mark.parametrize(
    ("opening", "author"),
    [
        ("你好，我是张磊。今天…", "张磊"),
        ("你好，我是陈皓，网名左耳朵耗子。", "陈皓"),
        ("**你好，我是 Tony Bai**，欢迎", "Tony Bai"),
        ("你好，我是Mr.Li.", "Mr.Li"),
        ("大家好，我是冷冷。", "冷冷"),
        ("![](https://a.example/x.png)\n\n你好，我是七七。", "七七"),
        ("我是张三。", None),
        ("你好，我是一个很长很长很长很长很长很长很长很长的介绍", None),
    ],
)
def test_author_name_from_the_opening_line(opening, author):
    assert parse(f"{opening}\n\n正文\n".encode()).author_name == author
