package io.tokenmeter.billing.price;

import java.util.List;

/** A price book that does not validate; {@link #problems()} lists every problem, each naming where it is. */
public final class PriceBookException extends Exception
{
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public PriceBookException(final List<String> problems)
    {
        super(problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + " in the price book: "
            + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems()
    {
        return problems;
    }
}
