"use strict";
// The moderation queue (admin): "select all" and the count of selected comments. Without
// JavaScript the checkboxes and every button still work; only the toggle stays hidden.
{
    function ready(fn) {
        if (document.readyState !== "loading") {
            fn();
        } else {
            document.addEventListener("DOMContentLoaded", fn);
        }
    }

    ready(function () {
        const form = document.getElementById("moderation-queue-form");
        if (!form) {
            return;
        }
        const toggle = document.getElementById("md-toggle");
        const boxes = Array.from(form.querySelectorAll("input.md-select"));
        const counter = form.querySelector(".md-counter");

        function update() {
            const selected = boxes.filter((box) => box.checked).length;
            boxes.forEach((box) => box.closest("tr").classList.toggle("selected", box.checked));
            toggle.checked = selected > 0 && selected === boxes.length;
            toggle.indeterminate = selected > 0 && selected < boxes.length;
            counter.textContent = counter.dataset.template
                .replace("__sel__", selected)
                .replace("__cnt__", counter.dataset.count);
        }

        toggle.hidden = false;
        toggle.addEventListener("change", function () {
            boxes.forEach((box) => {
                box.checked = toggle.checked;
            });
            update();
        });
        boxes.forEach((box) => box.addEventListener("change", update));
        // The browser may restore checked boxes when going back to the page.
        window.addEventListener("pageshow", update);
        update();
    });
}
